"""make prices: the catalog's prices from a (recorded) AWS Price List GetProducts response."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from cost_sentry.core.catalog import Catalog
from scripts.devtools import prices

FIXTURE = json.loads(prices.FIXTURE.read_text())


def catalog_copy(tmp_path: Path) -> Path:
    path = tmp_path / "models.json"
    path.write_text(prices.CATALOG.read_text())
    return path


def test_the_recorded_response_agrees_with_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    assert prices.main([]) == 0
    out = capsys.readouterr().out
    for name in ("claude-haiku-4-5", "nova-micro", "llama3-3-70b"):
        assert f"{name}: unchanged" in out
    assert "nothing written" in out


def test_every_rate_kind_tier_and_profile_kind_is_read() -> None:
    found = prices.token_prices(prices.recorded_products())
    haiku = prices.price_block(found["Claude Haiku 4.5"], {}, "src", "2026-12-01")
    assert haiku["cacheWrite1hPerMillionUsd"] == "2.00" and haiku["cacheWrite5mPerMillionUsd"] == "1.25"
    assert haiku["geographicPremiumPercent"] == 10
    micro = prices.price_block(found["Nova Micro"], {}, "src", "2026-12-01")
    assert micro["tiers"]["priority"]["inputPerMillionUsd"] == "0.06125"
    assert micro["tiers"]["flex"]["cacheReadPerMillionUsd"] == "0.004375"
    assert "Provisioned Thing" not in found


def test_online_writes_new_prices_the_gateway_can_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = json.loads(json.dumps(FIXTURE["pages"]))
    changed = [json.loads(text) for text in pages[1]["PriceList"]]
    for product in changed:
        attributes = product["product"]["attributes"]
        if attributes["model"] == "Llama 3.3 70B Instruct" and attributes["inferenceType"] == "input tokens":
            for term in product["terms"]["OnDemand"].values():
                for dimension in term["priceDimensions"].values():
                    dimension["pricePerUnit"]["USD"] = "0.00065"  # USD 0.65 per million
    pages[1]["PriceList"] = [json.dumps(product) for product in changed]
    client = boto3.session.Session().client("pricing", region_name="us-east-1")
    stubber = Stubber(client)
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}]
    expected = {"ServiceCode": "AmazonBedrock", "Filters": filters, "FormatVersion": "aws_v1"}
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": pages[0]["PriceList"], "NextToken": "page-2"},
        expected,
    )
    stubber.add_response(
        "get_products",
        {"FormatVersion": "aws_v1", "PriceList": pages[1]["PriceList"]},
        {**expected, "NextToken": "page-2"},
    )
    catalog = catalog_copy(tmp_path)
    record = tmp_path / "recorded.json"
    with stubber:
        assert (
            prices.main(
                ["--online", "--catalog", str(catalog), "--record", str(record)], pricing_client=client
            )
            == 0
        )
    written = json.loads(catalog.read_text())
    llama = written["models"]["llama3-3-70b"]
    assert llama["price"]["inputPerMillionUsd"] == "0.65"
    assert llama["price"]["source"].startswith("AWS Price List API")
    assert (
        llama["modelId"] == "meta.llama3-3-70b-instruct-v1:0"
        and llama["copyFrom"]["kind"] == "inference-profile"
    )
    assert Catalog.from_document(written).get("llama3-3-70b").cost_nanos(1_000_000, 0) == 650_000_000
    assert len(json.loads(record.read_text())["pages"]) == 2


def test_an_unreadable_unit_writes_nothing(tmp_path: Path) -> None:
    product = json.loads(FIXTURE["pages"][1]["PriceList"][-2])
    for term in product["terms"]["OnDemand"].values():
        for dimension in term["priceDimensions"].values():
            dimension["unit"] = "hours"
    with pytest.raises(prices.PriceListError, match="unknown price unit"):
        prices.token_prices([product])
