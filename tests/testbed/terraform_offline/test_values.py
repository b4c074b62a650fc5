"""Planning values against a schema: what becomes unknown, what must stay as configured."""

from __future__ import annotations

from scripts.testbed.terraform_offline import values

BLOCK = {
    "attributes": {
        "arn": {"type": "string", "computed": True},
        "name": {"type": "string", "optional": True, "computed": True},
        "description": {"type": "string", "optional": True},
        "models": {
            "nested_type": {
                "attributes": {"model_arn": {"type": "string", "computed": True}},
                "nesting_mode": "list",
            },
            "computed": True,
        },
    },
    "block_types": {
        "model_source": {
            "nesting_mode": "list",
            "block": {
                "attributes": {
                    "copy_from": {"type": "string", "required": True},
                    "status": {"type": "string", "computed": True},
                }
            },
        }
    },
}


def test_create_plans_unset_computed_attributes_as_unknown_and_keeps_configuration() -> None:
    proposed = {
        "arn": None,
        "name": "sales",
        "description": None,
        "models": None,
        "model_source": [{"copy_from": "arn:aws:bedrock:::foundation-model/x", "status": None}],
    }

    planned = values.mark_computed_unknown(BLOCK, proposed)

    assert values.is_unknown(planned["arn"])
    assert values.is_unknown(planned["models"])
    assert planned["name"] == "sales"
    assert planned["description"] is None  # optional only: known null
    assert planned["model_source"][0]["copy_from"] == "arn:aws:bedrock:::foundation-model/x"
    assert values.is_unknown(planned["model_source"][0]["status"])
    assert proposed["arn"] is None, "the proposed value must not be modified"


def test_unknown_survives_the_msgpack_round_trip() -> None:
    decoded = values.decode(values.encode({"arn": values.UNKNOWN, "tags": {"a": "b"}}))

    assert values.is_unknown(decoded["arn"])
    assert not values.is_wholly_known(decoded)
    assert decoded["tags"] == {"a": "b"}


def test_fill_computed_makes_a_data_source_wholly_known() -> None:
    filled = values.fill_computed(BLOCK, {"name": "x", "model_source": [{"copy_from": "y"}]})

    assert filled["arn"] == "offline-placeholder"
    assert filled["models"] == []
    assert filled["description"] is None
    assert filled["model_source"][0]["status"] == "offline-placeholder"
    assert values.is_wholly_known(filled)


def test_conform_fills_missing_keys_and_drops_unknown_ones() -> None:
    shaped = values.conform(BLOCK, {"arn": "a", "legacy": 1, "model_source": [{"copy_from": "c"}]})

    assert shaped == {
        "arn": "a",
        "name": None,
        "description": None,
        "models": None,
        "model_source": [{"copy_from": "c", "status": None}],
    }
