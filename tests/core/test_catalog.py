import json

import pytest

from cost_sentry.core.catalog import CATALOG_PATH, Catalog, default_catalog


def test_packaged_catalog_prices_are_exact_nanos():
    catalog = default_catalog()
    haiku = catalog.get("claude-3-haiku")
    assert (haiku.input_nanos_per_token, haiku.output_nanos_per_token) == (250, 1250)
    micro = catalog.get("nova-micro")
    assert (micro.input_nanos_per_token, micro.output_nanos_per_token) == (35, 140)


def test_cost_by_hand():
    # 1000 input tokens at USD 0.25/M + 500 output tokens at USD 1.25/M = 250000 + 625000 nanos.
    assert default_catalog().get("claude-3-haiku").cost_nanos(1000, 500) == 875_000


def test_top_k_paths_per_family():
    catalog = default_catalog()
    assert catalog.get("claude-3-haiku").top_k_path == ("top_k",)
    assert catalog.get("nova-lite").top_k_path == ("inferenceConfig", "topK")
    assert catalog.get("llama3-1-8b").top_k_path is None


def test_model_id_lookup():
    catalog = default_catalog()
    assert catalog.short_name_for_model_id("amazon.nova-micro-v1:0") == "nova-micro"
    assert catalog.short_name_for_model_id("nope") is None


def test_unknown_family_is_refused():
    document = json.loads(CATALOG_PATH.read_text())
    document["models"]["nova-micro"]["family"] = "mystery"
    with pytest.raises(ValueError, match="unknown family"):
        Catalog.from_document(document)
