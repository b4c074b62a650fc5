"""The model catalog (docs/design.md sections 1 and 7): names, limits, content and exact prices, loaded once."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from cost_sentry.core.pricing import (
    DEFAULT_TIER,
    FEMTOS_PER_NANO,
    GEOGRAPHIC,
    GLOBAL,
    GuardrailRates,
    ModelPrices,
    Usage,
    usage_cost_nanos,
)

CATALOG_PATH = Path(__file__).parent.parent / "data" / "models.json"
CONTENT_KINDS = frozenset({"text", "image", "document"})


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
    # Where Converse's missing top_k goes inside additionalModelRequestFields; None: the family has none.
    top_k_path: tuple[str, ...] | None
    prices: ModelPrices
    # A conservative floor of the model's output speed: how long max_tokens can take to generate.
    min_output_tokens_per_second: int = 20
    # The system profile or foundation model the tenants' application profiles copy from.
    copy_from_id: str = ""
    context_tokens: int = 200_000
    inputs: frozenset[str] = frozenset({"text"})
    tools: bool = True
    # Images: the most tokens one image can cost, and pixels per token when the family documents it.
    image_tokens_max: int | None = None
    pixels_per_token: int | None = None
    # Bedrock Guardrails rates (the catalog's ``guardrails``, one for every model); None: not priced,
    # so a request with guardrailConfig is refused.
    guardrail_rates: GuardrailRates | None = None

    @property
    def profile_kind(self) -> str:
        """global: a global cross-Region profile; geographic: a geographic one or in-Region."""
        return GLOBAL if self.copy_from_id.startswith("global.") else GEOGRAPHIC

    @property
    def cache_ttls(self) -> frozenset[str]:
        rates = self.prices.tiers[DEFAULT_TIER]
        ttls = set()
        if rates.cache_write_5m is not None:
            ttls.add("5m")
        if rates.cache_write_1h is not None:
            ttls.add("1h")
        return frozenset(ttls)

    @property
    def input_nanos_per_token(self) -> int:
        """The default tier's input rate in whole nano-dollars (0 when it is a fraction of one)."""
        return self.prices.rates(DEFAULT_TIER, self.profile_kind).input // FEMTOS_PER_NANO

    @property
    def output_nanos_per_token(self) -> int:
        return self.prices.rates(DEFAULT_TIER, self.profile_kind).output // FEMTOS_PER_NANO

    def cost_nanos(self, input_tokens: int, output_tokens: int) -> int:
        """Plain (uncached, default tier) usage; see ``usage_cost_nanos`` for every field."""
        return self.usage_cost_nanos(Usage(input_tokens, output_tokens))

    def usage_cost_nanos(
        self, usage: Usage, *, requested_tier: str | None = None, undetailed_write_ttl: str = "5m"
    ) -> int:
        return usage_cost_nanos(
            self.prices,
            usage,
            self.profile_kind,
            requested_tier=requested_tier,
            undetailed_write_ttl=undetailed_write_ttl,
            guardrail_rates=self.guardrail_rates,
        )


@dataclass(frozen=True)
class Catalog:
    models: Mapping[str, ModelSpec]

    def get(self, short_name: str) -> ModelSpec:
        return self.models[short_name]

    def short_name_for_model_id(self, model_id: str) -> str | None:
        """A base model id, a system inference profile id (``us.``/``global.`` prefixed) or either's ARN."""
        bare = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
        for spec in self.models.values():
            if bare in (spec.model_id, spec.copy_from_id):
                return spec.short_name
        return None

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> Catalog:
        families = document.get("families")
        models = document.get("models")
        if not isinstance(families, Mapping) or not isinstance(models, Mapping):
            raise ValueError("model catalog needs 'models' and 'families' objects")
        guardrails = document.get("guardrails")
        if guardrails is not None and not isinstance(guardrails, Mapping):
            raise ValueError("model catalog 'guardrails' must be an object")
        guardrail_rates = None if guardrails is None else GuardrailRates.from_document(guardrails)
        parsed: dict[str, ModelSpec] = {}
        for name, entry in models.items():
            family_name = entry["family"]
            family = families.get(family_name)
            if not isinstance(family, Mapping):
                raise ValueError(f"model {name}: unknown family {family_name!r}")
            top_k = family.get("topK")
            inputs = frozenset(entry.get("inputs", ["text"]))
            if not inputs <= CONTENT_KINDS or "text" not in inputs:
                raise ValueError(
                    f"model {name}: inputs must include text and be among {sorted(CONTENT_KINDS)}"
                )
            parsed[name] = ModelSpec(
                short_name=name,
                model_id=entry["modelId"],
                family=family_name,
                max_output_tokens=int(entry["maxOutputTokens"]),
                top_k_path=None
                if top_k is None
                else tuple(str(top_k["additionalModelRequestFields"]).split(".")),
                prices=ModelPrices.from_document(entry["price"], f"{name} price"),
                copy_from_id=str((entry.get("copyFrom") or {}).get("id", entry["modelId"])),
                context_tokens=int(entry.get("contextTokens", 200_000)),
                inputs=inputs,
                tools=bool(entry.get("tools", True)),
                image_tokens_max=family.get("imageTokensMax"),
                pixels_per_token=family.get("pixelsPerToken"),
                min_output_tokens_per_second=_positive(entry.get("minOutputTokensPerSecond", 20), name),
                guardrail_rates=guardrail_rates,
            )
            if "image" in inputs and parsed[name].image_tokens_max is None:
                raise ValueError(f"model {name} takes images but family {family_name} has no imageTokensMax")
        return cls(models=MappingProxyType(parsed))

    @classmethod
    def load(cls, path: Path = CATALOG_PATH) -> Catalog:
        return cls.from_document(json.loads(path.read_text(encoding="utf-8")))


@functools.cache
def default_catalog() -> Catalog:
    """The packaged catalog, read once per process."""
    return Catalog.load()
