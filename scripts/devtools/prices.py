"""``make prices``: the catalog's token prices from the AWS Price List API (``pricing`` GetProducts).

Offline by default: reads a recorded GetProducts response (tests/fixtures/prices/) and prints what
would change in lambda_src/cost_sentry/data/models.json. ``--online`` (``make prices ONLINE=1``) asks
the Price List API itself (AWS credentials needed; the API is served from us-east-1), writes the new
prices with today's date as ``asOf``, and with ``--record FILE`` keeps the raw response so it can
become the next fixture. Never at run time: the gateway only ever reads models.json.

How a product becomes a price (docs/design.md section 7.3): each product's ``model`` attribute is
matched with a catalog entry's ``priceList.model``; ``inferenceType`` names the rate (input, output,
cache read, cache write with its ``cacheTtl``), ``serviceTier`` the tier (standard = default, priority,
flex), ``crossRegionType`` the profile kind (global, or geo whose premium over global becomes
``geographicPremiumPercent``). The price is the OnDemand term's USD per unit, scaled to per million.
Products that name no token rate (provisioned throughput, batch, ...) are skipped.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from scripts import REPO_ROOT

CATALOG = REPO_ROOT / "lambda_src" / "cost_sentry" / "data" / "models.json"
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "prices" / "bedrock_get_products.json"
SOURCE = "AWS Price List API: pricing GetProducts, ServiceCode AmazonBedrock, regionCode {region}"
RATE_KEYS = {
    ("input tokens", None): "inputPerMillionUsd",
    ("output tokens", None): "outputPerMillionUsd",
    ("cache read input tokens", None): "cacheReadPerMillionUsd",
    ("cache write input tokens", "5m"): "cacheWrite5mPerMillionUsd",
    ("cache write input tokens", None): "cacheWrite5mPerMillionUsd",
    ("cache write input tokens", "1h"): "cacheWrite1hPerMillionUsd",
}
TIERS = {"standard": "default", "default": "default", "priority": "priority", "flex": "flex"}
UNITS = {"1k tokens": 1000, "1m tokens": 1, "million tokens": 1, "tokens": 1_000_000}


class PriceListError(ValueError):
    """A product the generator cannot read; nothing is written."""


def _per_million(dimension: Mapping[str, Any], what: str) -> Decimal:
    unit = str(dimension.get("unit", "")).strip().lower()
    if unit not in UNITS:
        raise PriceListError(f"{what}: unknown price unit {dimension.get('unit')!r}")
    usd = Decimal(str(dimension["pricePerUnit"]["USD"]))
    return (usd * UNITS[unit]).normalize()


def token_prices(
    products: Iterable[Mapping[str, Any]],
) -> dict[str, dict[tuple[str, str], dict[str, Decimal]]]:
    """model -> (tier, profile kind) -> rate key -> USD per million tokens."""
    prices: dict[str, dict[tuple[str, str], dict[str, Decimal]]] = {}
    for product in products:
        attributes = product.get("product", {}).get("attributes", {})
        kind = str(attributes.get("inferenceType", "")).strip().lower()
        ttl = attributes.get("cacheTtl")
        key = RATE_KEYS.get((kind, ttl)) or RATE_KEYS.get((kind, None))
        model = attributes.get("model")
        if key is None or not model:
            continue
        tier = TIERS.get(str(attributes.get("serviceTier", "standard")).lower())
        if tier is None:
            continue  # reserved capacity and the like: not on-demand token prices
        profile = (
            "geographic" if str(attributes.get("crossRegionType", "none")).lower() == "geo" else "global"
        )
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                rates = prices.setdefault(model, {}).setdefault((tier, profile), {})
                rates[key] = _per_million(dimension, f"{model} {kind}")
    return prices


def _text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    if "." not in text:
        return f"{text}.00"
    whole, fraction = text.split(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def price_block(
    found: Mapping[tuple[str, str], Mapping[str, Decimal]], old: Mapping[str, Any], source: str, as_of: str
) -> dict[str, Any]:
    """A catalog ``price`` object from one model's Price List rates."""
    kinds = {kind for _, kind in found}
    base_kind = "global" if "global" in kinds else "geographic"
    default = found.get(("default", base_kind))
    if default is None or "inputPerMillionUsd" not in default or "outputPerMillionUsd" not in default:
        raise PriceListError("no standard-tier input and output price")
    block: dict[str, Any] = {key: _text(value) for key, value in sorted(default.items())}
    tiers = {
        tier: {key: _text(value) for key, value in sorted(rates.items())}
        for (tier, kind), rates in sorted(found.items())
        if tier != "default" and kind == base_kind
    }
    if tiers:
        block["tiers"] = tiers
    geo = found.get(("default", "geographic"))
    if base_kind == "global" and geo and "inputPerMillionUsd" in geo:
        ratio = geo["inputPerMillionUsd"] / default["inputPerMillionUsd"]
        percent = (ratio - 1) * 100
        if percent != percent.to_integral_value():
            raise PriceListError(f"the geographic premium {percent}% is not a whole percentage")
        block["geographicPremiumPercent"] = int(percent)
    block.update({"source": source, "asOf": as_of})
    return {
        "inputPerMillionUsd": block.pop("inputPerMillionUsd"),
        "outputPerMillionUsd": block.pop("outputPerMillionUsd"),
        **block,
    }


def updated_catalog(
    catalog: Mapping[str, Any], products: Iterable[Mapping[str, Any]], source: str, as_of: str
) -> tuple[dict[str, Any], list[str]]:
    """The catalog with every Price List model's prices replaced; and one line per change."""
    found = token_prices(products)
    document = json.loads(json.dumps(catalog))
    changes: list[str] = []
    for name, entry in document["models"].items():
        list_name = (entry.get("priceList") or {}).get("model")
        if not list_name or list_name not in found:
            changes.append(f"{name}: not in the Price List response, kept as it is")
            continue
        try:
            new = price_block(found[list_name], entry["price"], source, as_of)
        except PriceListError as error:
            raise PriceListError(f"{name} ({list_name}): {error}") from None
        old_rates = {k: v for k, v in entry["price"].items() if k not in ("source", "asOf", "checked")}
        new_rates = {k: v for k, v in new.items() if k not in ("source", "asOf")}
        if old_rates != new_rates:
            changes.append(
                f"{name}: {json.dumps(old_rates, sort_keys=True)} -> {json.dumps(new_rates, sort_keys=True)}"
            )
        else:
            changes.append(f"{name}: unchanged")
        entry["price"] = new
    return document, changes


def recorded_products(path: Path = FIXTURE) -> Iterator[dict[str, Any]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    for page in document["pages"]:
        for text in page["PriceList"]:
            yield json.loads(text)


def live_pages(client: Any, region: str) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("get_products")
    yield from paginator.paginate(
        ServiceCode="AmazonBedrock",
        Filters=[{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        FormatVersion="aws_v1",
    )


def main(argv: list[str] | None = None, pricing_client: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--online", action="store_true", help="ask the AWS Price List API and write models.json"
    )
    parser.add_argument("--fixture", type=Path, default=FIXTURE, help="recorded GetProducts pages (offline)")
    parser.add_argument("--record", type=Path, help="with --online: save the raw response here")
    parser.add_argument("--region", default="us-east-1", help="the region whose prices the catalog holds")
    parser.add_argument("--catalog", type=Path, default=CATALOG)
    args = parser.parse_args(argv)
    catalog = json.loads(args.catalog.read_text(encoding="utf-8"))
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    source = SOURCE.format(region=args.region)
    if args.online:
        client = pricing_client
        if client is None:
            import boto3

            client = boto3.session.Session().client("pricing", region_name="us-east-1")
        pages = [dict(page) for page in live_pages(client, args.region)]
        if args.record:
            kept = [{"FormatVersion": p.get("FormatVersion"), "PriceList": p["PriceList"]} for p in pages]
            args.record.write_text(json.dumps({"pages": kept}, indent=1) + "\n", encoding="utf-8")
        products = [json.loads(text) for page in pages for text in page["PriceList"]]
    else:
        products = list(recorded_products(args.fixture))
        source += f" (recorded: {args.fixture.name})"
    try:
        document, changes = updated_catalog(catalog, products, source, today)
    except PriceListError as error:
        print(f"error: {error}; nothing written", file=sys.stderr)
        return 2
    for line in changes:
        print(line)
    if args.online:
        args.catalog.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.catalog}")
    else:
        print(
            "offline: nothing written (make prices ONLINE=1 asks the Price List API and writes models.json)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
