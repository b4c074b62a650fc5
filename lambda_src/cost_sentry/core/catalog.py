"""The model catalog (docs/design.md section 1): names, limits and exact prices, loaded once."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from cost_sentry.core.money import parse_decimal, price_per_million_to_nanos_per_token

CATALOG_PATH = Path(__file__).parent.parent / "data" / "models.json"


def _nanos_per_token(usd_per_million: object, what: str) -> int:
    return price_per_million_to_nanos_per_token(parse_decimal(usd_per_million, what), what)


def _positive(value: object, model: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"model {model}: minOutputTokensPerSecond must be a positive whole number")
    return value


@dataclass(frozen=True)
class ModelSpec:
    short_name: str
    model_id: str
    family: str
    max_output_tokens: int
    input_nanos_per_token: int
    output_nanos_per_token: int
    # Where Converse's missing top_k goes inside additionalModelRequestFields; None: the family has none.
    top_k_path: tuple[str, ...] | None
    # A conservative floor of the model's output speed: how long max_tokens can take to generate.
    min_output_tokens_per_second: int = 20

    def cost_nanos(self, input_tokens: int, output_tokens: int) -> int:
        return input_tokens * self.input_nanos_per_token + output_tokens * self.output_nanos_per_token


@dataclass(frozen=True)
class Catalog:
    models: Mapping[str, ModelSpec]

    def get(self, short_name: str) -> ModelSpec:
        return self.models[short_name]

    def short_name_for_model_id(self, model_id: str) -> str | None:
        for spec in self.models.values():
            if spec.model_id == model_id:
                return spec.short_name
        return None

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> Catalog:
        families = document.get("families")
        models = document.get("models")
        if not isinstance(families, Mapping) or not isinstance(models, Mapping):
            raise ValueError("model catalog needs 'models' and 'families' objects")
        top_k_paths: dict[str, tuple[str, ...] | None] = {}
        for family, spec in families.items():
            top_k = spec.get("topK") if isinstance(spec, Mapping) else None
            if top_k is None:
                top_k_paths[family] = None
            else:
                top_k_paths[family] = tuple(str(top_k["additionalModelRequestFields"]).split("."))
        parsed: dict[str, ModelSpec] = {}
        for name, entry in models.items():
            family = entry["family"]
            if family not in top_k_paths:
                raise ValueError(f"model {name}: unknown family {family!r}")
            price = entry["price"]
            parsed[name] = ModelSpec(
                short_name=name,
                model_id=entry["modelId"],
                family=family,
                max_output_tokens=int(entry["maxOutputTokens"]),
                input_nanos_per_token=_nanos_per_token(price["inputPerMillionUsd"], f"{name} input price"),
                output_nanos_per_token=_nanos_per_token(price["outputPerMillionUsd"], f"{name} output price"),
                top_k_path=top_k_paths[family],
                min_output_tokens_per_second=_positive(entry.get("minOutputTokensPerSecond", 20), name),
            )
        return cls(models=MappingProxyType(parsed))

    @classmethod
    def load(cls, path: Path = CATALOG_PATH) -> Catalog:
        return cls.from_document(json.loads(path.read_text(encoding="utf-8")))


@functools.cache
def default_catalog() -> Catalog:
    """The packaged catalog, read once per process."""
    return Catalog.load()
