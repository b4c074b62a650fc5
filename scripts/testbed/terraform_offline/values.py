"""Terraform values as the plugin protocol carries them (cty's msgpack encoding), shaped by a schema.

Decoded values are plain Python: None is null, lists stand for lists, sets and tuples, dicts for
objects and maps, and `msgpack.ExtType` for an unknown value ("known after apply"). Schemas are the
JSON blocks of `aws_schema.json` (the format of `terraform providers schema -json`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

# cty encodes an unknown value as extension type 0; refined unknowns use other codes but every
# extension value it sends us is some kind of unknown.
UNKNOWN = msgpack.ExtType(0, b"\x00")

Block = dict[str, Any]


def decode(raw: bytes) -> Any:
    if not raw:
        return None
    return msgpack.unpackb(raw, raw=False, strict_map_key=False)


def encode(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def is_unknown(value: Any) -> bool:
    return isinstance(value, msgpack.ExtType)


def is_wholly_known(value: Any) -> bool:
    if is_unknown(value):
        return False
    if isinstance(value, dict):
        return all(is_wholly_known(item) for item in value.values())
    if isinstance(value, list):
        return all(is_wholly_known(item) for item in value)
    return True


def mark_computed_unknown(block: Block, proposed: Any) -> Any:
    """The planned value for a create: every computed attribute the configuration left null is unknown.

    This is what a real provider does at plan time for attributes it can only learn by creating the
    object (ids, ARNs, optional+computed defaults). Values the configuration sets are kept as they are.
    """
    if not isinstance(proposed, dict):
        return proposed
    planned = dict(proposed)
    for name, attribute in block.get("attributes", {}).items():
        value = planned.get(name)
        if value is None and attribute.get("computed"):
            planned[name] = UNKNOWN
        elif "nested_type" in attribute and value is not None and not is_unknown(value):
            planned[name] = _map_elements(
                value,
                attribute["nested_type"]["nesting_mode"],
                lambda element, nested=attribute["nested_type"]: mark_computed_unknown(nested, element),
            )
    for name, block_type in block.get("block_types", {}).items():
        value = planned.get(name)
        if value is not None and not is_unknown(value):
            planned[name] = _map_elements(
                value,
                block_type["nesting_mode"],
                lambda element, nested=block_type["block"]: mark_computed_unknown(nested, element),
            )
    return planned


def _map_elements(value: Any, nesting_mode: str, transform: Callable[[Any], Any]) -> Any:
    if nesting_mode == "single":
        return transform(value)
    if nesting_mode == "map":
        return {key: transform(item) for key, item in value.items()}
    return [transform(item) for item in value]


def placeholder_for_type(cty_type: Any) -> Any:
    """A known stand-in value of a type, for computed data source attributes we cannot really read."""
    if cty_type == "string":
        return "offline-placeholder"
    if cty_type == "number":
        return 0
    if cty_type == "bool":
        return False
    if isinstance(cty_type, list) and cty_type[0] in ("list", "set"):
        return []
    if isinstance(cty_type, list) and cty_type[0] == "map":
        return {}
    if isinstance(cty_type, list) and cty_type[0] == "object":
        return {name: placeholder_for_type(member) for name, member in cty_type[1].items()}
    return None


def fill_computed(block: Block, value: dict[str, Any]) -> dict[str, Any]:
    """Give every still-null computed attribute a known placeholder (data sources must be wholly known)."""
    filled = conform(block, value)
    for name, attribute in block.get("attributes", {}).items():
        if filled.get(name) is None and attribute.get("computed"):
            if "nested_type" in attribute:
                mode = attribute["nested_type"]["nesting_mode"]
                filled[name] = {} if mode == "map" else (None if mode == "single" else [])
            else:
                filled[name] = placeholder_for_type(attribute["type"])
    for name, block_type in block.get("block_types", {}).items():
        current = filled.get(name)
        if current is not None:
            filled[name] = _map_elements(
                current,
                block_type["nesting_mode"],
                lambda element, nested=block_type["block"]: fill_computed(nested, element),
            )
    return filled


def null_object(block: Block) -> dict[str, Any]:
    """An object of the block's shape with every attribute null and no nested blocks."""
    value: dict[str, Any] = dict.fromkeys(block.get("attributes", {}))
    for name, block_type in block.get("block_types", {}).items():
        value[name] = (
            None
            if block_type["nesting_mode"] == "single"
            else ({} if block_type["nesting_mode"] == "map" else [])
        )
    return value


def conform(block: Block, value: Any) -> Any:
    """Shape a loosely built object (JSON state) to the block: missing keys null, unknown keys dropped."""
    if not isinstance(value, dict):
        return value
    shaped = null_object(block)
    for name in block.get("attributes", {}):
        if name in value:
            shaped[name] = value[name]
    for name, block_type in block.get("block_types", {}).items():
        if value.get(name) is not None:
            shaped[name] = _map_elements(
                value[name],
                block_type["nesting_mode"],
                lambda element, nested=block_type["block"]: conform(nested, element),
            )
    return shaped
