"""make prices leaves the catalog's guardrail rates as they are (it reads model token prices only),
and what it writes still loads with them."""

from __future__ import annotations

import json

from cost_sentry.core.catalog import Catalog
from scripts.devtools import prices


def test_regenerated_prices_keep_the_guardrail_rates() -> None:
    catalog = json.loads(prices.CATALOG.read_text())
    written, _changes = prices.updated_catalog(catalog, prices.recorded_products(), "src", "2026-12-01")
    assert written["guardrails"] == catalog["guardrails"]
    rates = Catalog.from_document(written).get("nova-lite").guardrail_rates
    assert rates is not None and rates.text_unit_nanos["contentPolicyUnits"] == 150_000
