"""Exact prices of Bedrock usage (docs/design.md section 7). Pure functions, integer arithmetic only.

Rates are kept in integer **femto-dollars per token** (1e-15 USD): USD per million tokens times 10^9, so
every catalog price with up to nine decimals (USD 0.0153125 per million, Nova Micro's priority cache
read, = 15 312 500 femto-dollars per token) is exact. A call's cost is the sum over its usage fields,
converted to nano-dollars (the ledger's unit) by rounding up once per call: at most one nano-dollar
(1e-9 USD) above the exact figure, never below.

What Bedrock reports and how each field is priced (Converse ``usage`` and ``serviceTier``):

- ``inputTokens``: uncached input, at the input rate of the tier that served the call.
- ``outputTokens`` (reasoning included): at the output rate.
- ``cacheReadInputTokens``: at the cache-read rate.
- ``cacheWriteInputTokens``: at the cache-write rate of its TTL; ``cacheDetails`` splits it into 5-minute
  and 1-hour writes. Writes no detail accounts for are priced at the dearest TTL the request asked for.
- ``serviceTier.type`` (``default``, ``flex``, ``priority``): which tier's rates apply.
- The profile kind (a geographic or in-Region profile, or a global cross-Region one): models whose
  prices differ by kind carry ``geographicPremiumPercent`` over the global rates.
- Guardrails (a request with ``guardrailConfig``): ``trace.guardrail`` holds one input assessment and
  the output assessments (one per streamed chunk the guardrail evaluated), each with
  ``invocationMetrics.usage``: text units (up to 1,000 characters) per policy type, each at its
  policy's rate (``wordPolicyUnits`` and ``sensitiveInformationPolicyFreeUnits`` are free), images at
  the image rate, automated reasoning per policy evaluated. Rates: the catalog's ``guardrails``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from cost_sentry.core.money import parse_decimal

FEMTOS_PER_NANO = 10**6
FEMTOS_PER_USD_PER_MILLION = 10**9  # (1e15 femtos / USD) / (1e6 tokens / million)
DEFAULT_TIER = "default"
SERVICE_TIERS = ("default", "flex", "priority")
GLOBAL = "global"
GEOGRAPHIC = "geographic"
PROFILE_KINDS = (GLOBAL, GEOGRAPHIC)
CACHE_TTLS = ("5m", "1h")
NANOS_PER_USD = 10**9
# Bedrock Guardrails bill per text unit: up to this many characters of the text one assessment evaluates.
TEXT_UNIT_CHARACTERS = 1000
# GuardrailUsage fields that count text units (the bedrock-runtime service model, 2023-09-30).
GUARDRAIL_TEXT_UNIT_FIELDS = (
    "topicPolicyUnits",
    "contentPolicyUnits",
    "wordPolicyUnits",
    "sensitiveInformationPolicyUnits",
    "sensitiveInformationPolicyFreeUnits",
    "contextualGroundingPolicyUnits",
    "automatedReasoningPolicyUnits",
)
GUARDRAIL_IMAGE_FIELD = "contentPolicyImageUnits"
AUTOMATED_REASONING_UNITS = "automatedReasoningPolicyUnits"
AUTOMATED_REASONING_POLICIES = "automatedReasoningPolicies"

_RATE_FIELDS = {
    "input": "inputPerMillionUsd",
    "output": "outputPerMillionUsd",
    "cache_read": "cacheReadPerMillionUsd",
    "cache_write_5m": "cacheWrite5mPerMillionUsd",
    "cache_write_1h": "cacheWrite1hPerMillionUsd",
}


def usd_per_million_to_femtos(value: object, what: str) -> int:
    """USD per million tokens -> whole femto-dollars per token; refuses what is not exact."""
    usd = parse_decimal(value, what)
    femtos = usd * FEMTOS_PER_USD_PER_MILLION
    if femtos < 0 or femtos != femtos.to_integral_value():
        raise ValueError(f"{what}: {value} USD per million tokens is not a whole number of femto-dollars")
    return int(femtos)


def femtos_to_usd_per_million(femtos: int) -> str:
    text = format((Decimal(femtos) / FEMTOS_PER_USD_PER_MILLION).normalize(), "f")
    return text if "." in text else f"{text}.00"


def femtos_to_nanos_ceiling(femtos: int) -> int:
    return -(-femtos // FEMTOS_PER_NANO)


@dataclass(frozen=True)
class Rates:
    """Femto-dollars per token; None: the model has no such price (no caching, or no 1-hour TTL)."""

    input: int
    output: int
    cache_read: int | None = None
    cache_write_5m: int | None = None
    cache_write_1h: int | None = None

    def cache_write(self, ttl: str) -> int:
        """The rate a cache write of ``ttl`` is billed at; a TTL without a price of its own costs the
        dearest known write rate (never less than the input rate), so a gap in the catalog over-charges."""
        rate = self.cache_write_1h if ttl == "1h" else self.cache_write_5m
        if rate is not None:
            return rate
        known = [r for r in (self.cache_write_5m, self.cache_write_1h) if r is not None]
        return max([self.input, *known])

    def scaled(self, percent: int) -> Rates:
        def scale(rate: int | None) -> int | None:
            if rate is None:
                return None
            scaled = rate * (100 + percent)
            if scaled % 100:
                raise ValueError(f"a {percent}% premium on {rate} femto-dollars is not whole")
            return scaled // 100

        return Rates(**{name: scale(getattr(self, name)) for name in _RATE_FIELDS})  # type: ignore[arg-type]

    def dearest_input(self, ttls: frozenset[str]) -> int:
        """The highest per-token rate any input token of a request with cache points of ``ttls`` can
        cost: uncached input, or a cache write of one of those TTLs (a cache read is always cheaper)."""
        return max([self.input, *(self.cache_write(ttl) for ttl in ttls)])


def _rates(document: Mapping[str, Any], what: str, base: Rates | None = None) -> Rates:
    values: dict[str, int | None] = {}
    for name, key in _RATE_FIELDS.items():
        if key in document:
            values[name] = usd_per_million_to_femtos(document[key], f"{what} {key}")
        elif base is not None:
            values[name] = getattr(base, name)
        elif name in ("input", "output"):
            raise ValueError(f"{what}: {key} is required")
        else:
            values[name] = None
    return Rates(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ModelPrices:
    """The prices of one model: the rates of each service tier it offers, at the global profile kind."""

    tiers: Mapping[str, Rates]
    geographic_premium_percent: int = 0

    @classmethod
    def from_document(cls, document: Mapping[str, Any], what: str) -> ModelPrices:
        default = _rates(document, what)
        tiers = {DEFAULT_TIER: default}
        for tier, rates in (document.get("tiers") or {}).items():
            if tier not in SERVICE_TIERS or tier == DEFAULT_TIER:
                raise ValueError(f"{what}: unknown service tier {tier!r}; expected flex or priority")
            tiers[tier] = _rates(rates, f"{what} tier {tier}", base=default)
        premium = document.get("geographicPremiumPercent", 0)
        if isinstance(premium, bool) or not isinstance(premium, int) or not 0 <= premium <= 100:
            raise ValueError(f"{what}: geographicPremiumPercent must be a whole percentage 0..100")
        prices = cls(tiers=MappingProxyType(tiers), geographic_premium_percent=premium)
        for tier in tiers:  # an inexact premium fails at load time, not on a request
            prices.rates(tier, GEOGRAPHIC)
        return prices

    def rates(self, tier: str, profile_kind: str) -> Rates:
        rates = self.tiers[tier]
        if profile_kind == GEOGRAPHIC and self.geographic_premium_percent:
            return rates.scaled(self.geographic_premium_percent)
        return rates

    def worst_rates(self, tier: str | None, profile_kind: str) -> Rates:
        """Rates a request asking for ``tier`` may be billed at: the requested tier, or the default
        one it can fall back to (priority falls back when its capacity is short), whichever is dearer."""
        candidates = [self.rates(DEFAULT_TIER, profile_kind)]
        if tier is not None and tier != DEFAULT_TIER:
            candidates.append(self.rates(tier, profile_kind))
        dearest: dict[str, Any] = {
            name: None
            if any(getattr(r, name) is None for r in candidates)
            else max(getattr(r, name) for r in candidates)
            for name in _RATE_FIELDS
        }
        return Rates(**dearest)


def _whole_nanos(value: object, scale: int, what: str) -> int:
    """USD (per ``scale`` units) -> whole nano-dollars per unit; refuses what is not exact."""
    nanos = parse_decimal(value, what) * NANOS_PER_USD / scale
    if nanos < 0 or nanos != nanos.to_integral_value():
        raise ValueError(f"{what}: {value} USD per {scale} is not a whole number of nano-dollars per unit")
    return int(nanos)


@dataclass(frozen=True)
class GuardrailRates:
    """Bedrock Guardrails prices in whole nano-dollars: per text unit of each GuardrailUsage field, per
    image, and how many automated reasoning policies one guardrail can evaluate (for the worst case)."""

    text_unit_nanos: Mapping[str, int]
    image_nanos: int
    automated_reasoning_policies_max: int = 1

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> GuardrailRates:
        what = "guardrails"
        text = document.get("perThousandTextUnitsUsd")
        image = document.get("perImageUsd")
        if not isinstance(text, Mapping) or not isinstance(image, Mapping):
            raise ValueError(f"{what}: perThousandTextUnitsUsd and perImageUsd are required objects")
        missing = sorted(set(GUARDRAIL_TEXT_UNIT_FIELDS) - set(text))
        unknown = sorted(set(text) - set(GUARDRAIL_TEXT_UNIT_FIELDS))
        if missing or unknown or set(image) != {GUARDRAIL_IMAGE_FIELD}:
            raise ValueError(
                f"{what}: prices every GuardrailUsage field exactly once "
                f"(missing {missing}, unknown {unknown}, images {sorted(image)})"
            )
        policies = document.get("automatedReasoningPoliciesMax", 1)
        if isinstance(policies, bool) or not isinstance(policies, int) or policies < 1:
            raise ValueError(f"{what}: automatedReasoningPoliciesMax must be a positive whole number")
        return cls(
            text_unit_nanos=MappingProxyType(
                {
                    name: _whole_nanos(text[name], 1000, f"{what} {name}")
                    for name in GUARDRAIL_TEXT_UNIT_FIELDS
                }
            ),
            image_nanos=_whole_nanos(image[GUARDRAIL_IMAGE_FIELD], 1, f"{what} {GUARDRAIL_IMAGE_FIELD}"),
            automated_reasoning_policies_max=policies,
        )

    @property
    def dearest_text_unit_nanos(self) -> int:
        """What a text unit of a policy this catalog does not know yet is charged: the dearest rate."""
        return max(self.text_unit_nanos.values())

    @property
    def every_policy_text_unit_nanos(self) -> int:
        """One text unit evaluated by every priced policy a guardrail can have (the gateway does not
        know which policies a guardrail has): the per-unit rate of the worst case."""
        rates = dict(self.text_unit_nanos)
        ar = rates.pop(AUTOMATED_REASONING_UNITS)
        return sum(rates.values()) + ar * self.automated_reasoning_policies_max

    def cost_nanos(self, usage: GuardrailUsage) -> int:
        cost = usage.image_units * self.image_nanos
        for name, units in usage.text_units.items():
            if name == AUTOMATED_REASONING_UNITS:
                continue  # priced per policy evaluated, below
            cost += units * self.text_unit_nanos.get(name, self.dearest_text_unit_nanos)
        return cost + usage.automated_reasoning_billed_units * self.text_unit_nanos[AUTOMATED_REASONING_UNITS]


@dataclass(frozen=True)
class GuardrailUsage:
    """What Bedrock's guardrail trace reports, summed over the input and every output assessment."""

    text_units: Mapping[str, int] = field(default_factory=dict)
    image_units: int = 0
    # automatedReasoningPolicyUnits x automatedReasoningPolicies (at least 1) of each assessment.
    automated_reasoning_billed_units: int = 0
    assessments: int = 0
    # False when an assessment came without its usage: what it cost is unknown (docs/design.md 8).
    complete: bool = True

    @property
    def total_text_units(self) -> int:
        return sum(self.text_units.values())


def _unit_count(raw: Mapping[str, Any], name: str) -> int:
    value = raw.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedUsage(f"guardrail usage {name} is {value!r}, not a non-negative whole number")
    return int(value)


def parse_guardrail_trace(trace: Any) -> GuardrailUsage | None:
    """Converse's (or the stream metadata's) ``trace`` -> the guardrail usage it reports, summed over
    every assessment of every guardrail; None when the trace holds no guardrail assessment at all."""
    if trace is None:
        return None
    if not isinstance(trace, Mapping):
        raise MalformedUsage(f"Bedrock returned a trace that is not an object: {trace!r}")
    guardrail = trace.get("guardrail")
    if guardrail is None:
        return None
    if not isinstance(guardrail, Mapping):
        raise MalformedUsage("trace.guardrail is not an object")
    assessments: list[Any] = list((guardrail.get("inputAssessment") or {}).values())
    for chunks in (guardrail.get("outputAssessments") or {}).values():
        if not isinstance(chunks, list):
            raise MalformedUsage("trace.guardrail.outputAssessments holds a value that is not a list")
        assessments.extend(chunks)
    if not assessments:
        return None
    text_units: dict[str, int] = {}
    images = ar_billed = 0
    complete = True
    for assessment in assessments:
        metrics = assessment.get("invocationMetrics") if isinstance(assessment, Mapping) else None
        usage = metrics.get("usage") if isinstance(metrics, Mapping) else None
        if not isinstance(usage, Mapping):
            complete = False
            continue
        for name in usage:
            if name == AUTOMATED_REASONING_POLICIES:
                continue
            units = _unit_count(usage, name)
            if name == GUARDRAIL_IMAGE_FIELD:
                images += units
            else:
                # A field Bedrock adds later is still charged (at the dearest text rate), never at $0.
                text_units[name] = text_units.get(name, 0) + units
        ar_units = _unit_count(usage, AUTOMATED_REASONING_UNITS)
        ar_billed += ar_units * max(1, _unit_count(usage, AUTOMATED_REASONING_POLICIES))
    return GuardrailUsage(
        text_units=MappingProxyType(text_units),
        image_units=images,
        automated_reasoning_billed_units=ar_billed,
        assessments=len(assessments),
        complete=complete,
    )


@dataclass(frozen=True)
class Usage:
    """Usage as Bedrock reports it for one call: tokens, and the guardrail's units when one ran."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    # cacheDetails: tokens written with each TTL; the rest of cache_write_tokens has no detail.
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    service_tier: str | None = None
    guardrail: GuardrailUsage | None = None

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.total_input_tokens + self.output_tokens

    def with_tier(self, tier: str | None) -> Usage:
        return replace(self, service_tier=tier)


class MalformedUsage(ValueError):
    """Bedrock's usage cannot be read: the call was billed but what it cost is unknown."""


def _count(raw: Mapping[str, Any], name: str, required: bool) -> int:
    value = raw.get(name)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedUsage(f"usage.{name} is {value!r}, not a non-negative whole number")
    return value


def parse_usage(raw: Any, service_tier: Any = None, trace: Any = None) -> Usage:
    """Converse ``usage`` (and the response's ``serviceTier`` and ``trace``) -> Usage; MalformedUsage
    if unreadable."""
    if not isinstance(raw, Mapping):
        raise MalformedUsage("Bedrock returned no token usage")
    writes = _count(raw, "cacheWriteInputTokens", required=False)
    by_ttl: dict[str, int] = {}
    for detail in raw.get("cacheDetails") or ():
        if not isinstance(detail, Mapping) or detail.get("ttl") not in CACHE_TTLS:
            raise MalformedUsage(f"usage.cacheDetails holds {detail!r}")
        by_ttl[detail["ttl"]] = by_ttl.get(detail["ttl"], 0) + _count(detail, "inputTokens", required=True)
    if sum(by_ttl.values()) > writes:
        # The split claims more writes than the total: price the split (the larger figure).
        writes = sum(by_ttl.values())
    tier = None
    if isinstance(service_tier, Mapping):
        tier = service_tier.get("type")
    elif isinstance(service_tier, str):
        tier = service_tier
    if tier is not None and tier not in SERVICE_TIERS:
        raise MalformedUsage(f"Bedrock reported an unknown service tier {tier!r}")
    return Usage(
        input_tokens=_count(raw, "inputTokens", required=True),
        output_tokens=_count(raw, "outputTokens", required=True),
        cache_read_tokens=_count(raw, "cacheReadInputTokens", required=False),
        cache_write_tokens=writes,
        cache_write_5m_tokens=by_ttl.get("5m", 0),
        cache_write_1h_tokens=by_ttl.get("1h", 0),
        service_tier=tier,
        guardrail=parse_guardrail_trace(trace),
    )


def usage_cost_femtos(rates: Rates, usage: Usage, undetailed_write_ttl: str = "5m") -> int:
    detailed = usage.cache_write_5m_tokens + usage.cache_write_1h_tokens
    writes = usage.cache_write_5m_tokens * rates.cache_write("5m")
    writes += usage.cache_write_1h_tokens * rates.cache_write("1h")
    writes += (usage.cache_write_tokens - detailed) * rates.cache_write(undetailed_write_ttl)
    cache_read_rate = rates.cache_read if rates.cache_read is not None else rates.input
    return (
        usage.input_tokens * rates.input
        + usage.output_tokens * rates.output
        + usage.cache_read_tokens * cache_read_rate
        + writes
    )


def usage_cost_nanos(
    prices: ModelPrices,
    usage: Usage,
    profile_kind: str,
    *,
    requested_tier: str | None = None,
    undetailed_write_ttl: str = "5m",
    guardrail_rates: GuardrailRates | None = None,
) -> int:
    """What ``usage`` costs in nano-dollars: the tier that served it (else the one asked for) and the
    profile kind's rates, rounded up once; plus the guardrail's units (whole nano-dollars already; no
    tier or profile premium applies to them)."""
    tier = usage.service_tier or requested_tier or DEFAULT_TIER
    if tier not in prices.tiers:
        tier = DEFAULT_TIER  # "reserved" or a tier the catalog does not price: the default rates
    femtos = usage_cost_femtos(prices.rates(tier, profile_kind), usage, undetailed_write_ttl)
    guardrail = 0
    if usage.guardrail is not None:
        if guardrail_rates is None:
            raise ValueError("guardrail usage to price but the catalog has no guardrail rates")
        guardrail = guardrail_rates.cost_nanos(usage.guardrail)
    return femtos_to_nanos_ceiling(femtos) + guardrail
