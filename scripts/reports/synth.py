"""Synthetic CUR 2.0 (AWS Data Exports) Parquet: seeded, generated inside DuckDB, partitioned like a delivery.

Two sources:
- `synthesize`: N line items of a made-up organisation (tenants, users, models, other services), fast
  enough for 10 million rows on two cores because every row is computed by SQL from `range(N)` with
  hash-based pseudo-randomness (deterministic for a seed regardless of thread scheduling).
- `synthesize_from_calls`: the gateway ledger's call records (docs/design.md section 4) turned into the
  hourly CUR line items AWS would bill for them, with optional per-tenant drift, so reconciliation has
  something real to compare.

Output: DIR/BILLING_PERIOD=YYYY-MM/part-N.parquet with CUR 2.0 column names and types.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from scripts.reports.money import nanos_to_usd

MODELS_JSON = Path(__file__).resolve().parents[2] / "lambda_src" / "cost_sentry" / "data" / "models.json"
TOKENS_PER_MILLION = Decimal(1_000_000)
REGION = "us-east-1"
REGION_PREFIX = "USE1"

# How Bedrock names each catalog model in CUR usage types (USE1-<name>-input-tokens).
USAGE_TYPE_MODEL_NAMES = {
    "claude-3-haiku": "Claude3Haiku",
    "claude-3-5-haiku": "Claude3.5Haiku",
    "claude-sonnet-4": "ClaudeSonnet4",
    "nova-micro": "NovaMicro",
    "nova-lite": "NovaLite",
    "nova-pro": "NovaPro",
    "llama3-1-8b": "Llama3.1-8B",
}

# fmt: off
FIRST_NAMES = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "ken", "laura",
    "mallory", "nina", "oscar", "peggy", "quinn", "rupert", "sybil", "trent", "uma", "victor", "wendy",
    "xavier", "yara", "zoe", "amir", "bea", "chen", "dara", "eli", "fatima", "gus", "hana", "ines", "jonas",
    "kofi", "lena", "mateo", "noor",
)
# fmt: on


@dataclass(frozen=True)
class SynthTenant:
    tenant_id: str
    application_id: str
    cost_center: str
    environment: str
    models: tuple[str, ...]
    users: int
    # budget for the synthetic tenants.json, per 100,000 generated rows, so budgets scale with --rows
    budget_per_100k_rows: Decimal = Decimal(1000)
    budget_period: str = "MONTHLY"


DEFAULT_TENANTS = (
    SynthTenant(
        "sales", "sales-assistant", "sales", "prod", ("claude-3-haiku", "nova-micro"), 24, Decimal(300)
    ),
    SynthTenant(
        "services",
        "services-copilot",
        "services",
        "prod",
        ("claude-3-5-haiku", "nova-lite"),
        18,
        Decimal(600),
    ),
    SynthTenant(
        "support",
        "support-bot",
        "support",
        "staging",
        ("nova-micro", "nova-lite"),
        30,
        Decimal("1.6"),
        "DAILY",
    ),
    SynthTenant(
        "marketing", "campaign-writer", "marketing", "prod", ("claude-sonnet-4", "nova-pro"), 8, Decimal(2000)
    ),
    SynthTenant("legal", "contract-review", "legal", "prod", ("claude-sonnet-4",), 5, Decimal(2200)),
    SynthTenant(
        "engineering",
        "code-helper",
        "engineering",
        "dev",
        ("claude-3-5-haiku", "llama3-1-8b"),
        40,
        Decimal(500),
    ),
)

OTHER_SERVICES = (
    # product code, usage type, operation, pricing unit, USD per unit
    ("AmazonEC2", "USE1-BoxUsage:m7g.large", "RunInstances", "Hrs", "0.0816"),
    ("AmazonS3", "USE1-TimedStorage-ByteHrs", "StandardStorage", "GB-Mo", "0.023"),
    ("AWSLambda", "USE1-Lambda-GB-Second", "Invoke", "Lambda-GB-Second", "0.0000166667"),
    (
        "AmazonDynamoDB",
        "USE1-WriteRequestUnits",
        "PayPerRequestThroughput",
        "WriteRequestUnits",
        "0.00000125",
    ),
    ("AmazonApiGateway", "USE1-ApiGatewayRequest", "ApiGatewayRequest", "Requests", "0.0000035"),
)


class SynthError(ValueError):
    """Bad generator input; nothing was written."""


def load_prices(models_json: Path = MODELS_JSON) -> dict[str, tuple[Decimal, Decimal, str]]:
    """Short model name -> (input USD per token, output USD per token, modelId) from the catalog."""
    catalog = json.loads(models_json.read_text(encoding="utf-8"))
    prices = {}
    for short_name, model in catalog["models"].items():
        price = model["price"]
        prices[short_name] = (
            Decimal(price["inputPerMillionUsd"]) / TOKENS_PER_MILLION,
            Decimal(price["outputPerMillionUsd"]) / TOKENS_PER_MILLION,
            model["modelId"],
        )
    return prices


def usage_type_for(model: str, direction: str) -> str:
    if model not in USAGE_TYPE_MODEL_NAMES:
        raise SynthError(f"no CUR usage type name for model {model!r}")
    return f"{REGION_PREFIX}-{USAGE_TYPE_MODEL_NAMES[model]}-{direction}-tokens"


def invoker_principal(account_id: str, name_prefix: str, tenant_id: str, user: str) -> str:
    prefix = f"{name_prefix}-" if name_prefix else ""
    return f"arn:aws:sts::{account_id}:assumed-role/{prefix}{tenant_id}-invoker/{user}"


def profile_arn(account_id: str, tenant_id: str, model: str) -> str:
    import hashlib

    profile_id = hashlib.sha256(f"{tenant_id}/{model}".encode()).hexdigest()[:12]
    return f"arn:aws:bedrock:{REGION}:{account_id}:application-inference-profile/{profile_id}"


# One projection from the generators' common intermediate columns to the CUR 2.0 schema, so both
# generators write byte-for-byte the same column names and types.
_CUR_PROJECTION = """
SELECT
    line_id AS identity_line_item_id,
    strftime(usage_start, '%Y-%m-%dT%H:%M:%SZ') || '/'
        || strftime(usage_start + INTERVAL 1 HOUR, '%Y-%m-%dT%H:%M:%SZ') AS identity_time_interval,
    'Anniversary' AS bill_bill_type,
    'AWS' AS bill_billing_entity,
    CAST(date_trunc('month', usage_start) AS TIMESTAMP) AS bill_billing_period_start_date,
    CAST(date_trunc('month', usage_start) + INTERVAL 1 MONTH AS TIMESTAMP) AS bill_billing_period_end_date,
    account_id AS bill_payer_account_id,
    'Cost Sentry Org' AS bill_payer_account_name,
    account_id AS line_item_usage_account_id,
    'workload' AS line_item_usage_account_name,
    line_item_type AS line_item_line_item_type,
    usage_start AS line_item_usage_start_date,
    usage_start + INTERVAL 1 HOUR AS line_item_usage_end_date,
    product_code AS line_item_product_code,
    usage_type AS line_item_usage_type,
    operation AS line_item_operation,
    resource_id AS line_item_resource_id,
    CAST(usage_amount AS DOUBLE) AS line_item_usage_amount,
    'USD' AS line_item_currency_code,
    CAST(rate AS VARCHAR) AS line_item_unblended_rate,
    CAST(cost AS DOUBLE) AS line_item_unblended_cost,
    CAST(rate AS VARCHAR) AS line_item_blended_rate,
    CAST(cost AS DOUBLE) AS line_item_blended_cost,
    description AS line_item_line_item_description,
    principal AS line_item_iam_principal,
    CAST(cost AS DOUBLE) AS pricing_public_on_demand_cost,
    CAST(rate AS VARCHAR) AS pricing_public_on_demand_rate,
    'OnDemand' AS pricing_term,
    pricing_unit AS pricing_unit,
    product_code AS product_servicecode,
    region AS product_region_code,
    MAP {'product_name': product_name, 'region': region} AS product,
    tags AS resource_tags,
    strftime(usage_start, '%Y-%m') AS BILLING_PERIOD
FROM source
"""


def _write(connection: Any, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    target = str(out_dir).replace("'", "''")
    connection.execute(
        f"COPY ({_CUR_PROJECTION}) TO '{target}' "
        "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (BILLING_PERIOD), "
        "FILENAME_PATTERN 'part-{i}', OVERWRITE_OR_IGNORE true)"
    )
    return sorted(out_dir.glob("BILLING_PERIOD=*/part-*.parquet"))


def _check_range(start: date, end: date) -> None:
    if end <= start:
        raise SynthError(f"--end ({end}) must be after --start ({start})")
    if (end - start).days > 3 * 366:
        raise SynthError("the date range is limited to three years")


def synthesize(
    out_dir: Path,
    rows: int,
    seed: int = 1,
    start: date = date(2026, 11, 1),
    end: date = date(2026, 12, 1),
    account_id: str = "111111111111",
    name_prefix: str = "cost-sentry",
    tenants: Sequence[SynthTenant] = DEFAULT_TENANTS,
    connection: Any = None,
) -> list[Path]:
    """Write `rows` synthetic CUR 2.0 line items for [start, end) under `out_dir`; returns the files."""
    import duckdb

    if rows <= 0:
        raise SynthError("--rows must be positive")
    if not 0 <= seed < 2**31:
        raise SynthError("--seed must be between 0 and 2^31-1")
    if not re.match(r"^\d{12}$", account_id):
        raise SynthError(f"account id must be 12 digits, got {account_id!r}")
    _check_range(start, end)
    prices = load_prices()
    con = connection or duckdb.connect(":memory:")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE synth_tenants (t INTEGER, tenant_id VARCHAR, application_id VARCHAR, "
        "cost_center VARCHAR, environment VARCHAR, users INTEGER, model_count INTEGER)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE synth_models (t INTEGER, k INTEGER, usage_name VARCHAR, "
        "input_rate DECIMAL(38, 12), output_rate DECIMAL(38, 12), resource_id VARCHAR)"
    )
    for t, tenant in enumerate(tenants):
        con.execute(
            "INSERT INTO synth_tenants VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                t,
                tenant.tenant_id,
                tenant.application_id,
                tenant.cost_center,
                tenant.environment,
                tenant.users,
                len(tenant.models),
            ],
        )
        for k, model in enumerate(tenant.models):
            if model not in prices:
                raise SynthError(f"tenant {tenant.tenant_id}: model {model!r} is not in {MODELS_JSON.name}")
            input_rate, output_rate, _ = prices[model]
            con.execute(
                "INSERT INTO synth_models VALUES (?, ?, ?, ?, ?, ?)",
                [
                    t,
                    k,
                    USAGE_TYPE_MODEL_NAMES[model],
                    input_rate,
                    output_rate,
                    profile_arn(account_id, tenant.tenant_id, model),
                ],
            )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE synth_other (k INTEGER, product_code VARCHAR, usage_type VARCHAR, "
        "operation VARCHAR, pricing_unit VARCHAR, rate DECIMAL(38, 12))"
    )
    for k, (code, usage_type, operation, unit, rate) in enumerate(OTHER_SERVICES):
        con.execute(
            "INSERT INTO synth_other VALUES (?, ?, ?, ?, ?, ?)", [k, code, usage_type, operation, unit, rate]
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE synth_names AS SELECT unnest(?) AS name, "
        "generate_subscripts(?, 1) - 1 AS n",
        [FIRST_NAMES, FIRST_NAMES],
    )
    hours = (end - start).days * 24
    prefix = f"{name_prefix}-" if name_prefix else ""
    bypass = "oddity_draw BETWEEN 0.005 AND 0.025"
    # u(i, salt): a uniform number in [0, 1) that depends only on the row, the seed and the salt.
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO u(i, salt) AS (hash(i, {int(seed)}, salt) % 1000003) / 1000003.0"
    )
    # every value inlined below is validated above (numbers, the account id, names from our own tables)
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW source AS
        WITH draws AS (
            SELECT
                i,
                u(i, 1) AS kind_draw,
                -- tenants and users are skewed so that a few stand out, like real traffic
                CAST(floor(pow(u(i, 2), 1.6) * (SELECT count(*) FROM synth_tenants)) AS INTEGER) AS t,
                u(i, 3) AS model_draw,
                u(i, 4) AS user_draw,
                CAST(floor(u(i, 5) * {hours}) AS INTEGER) AS hour_offset,
                u(i, 6) AS size_draw,
                u(i, 7) AS oddity_draw,
                i % 2 AS is_output
            FROM range({int(rows)}) AS r(i)
        ),
        shaped AS (
            SELECT
                d.*,
                tn.tenant_id, tn.application_id, tn.cost_center, tn.environment,
                CAST(floor(d.model_draw * tn.model_count) AS INTEGER) AS k,
                CAST(floor(pow(d.user_draw, 2.0) * tn.users) AS INTEGER) AS user_index,
                TIMESTAMP '{start.isoformat()} 00:00:00' + to_hours(d.hour_offset) AS usage_start
            FROM draws AS d JOIN synth_tenants AS tn USING (t)
        ),
        bedrock AS (
            SELECT
                s.*, m.usage_name, m.resource_id,
                CASE WHEN s.is_output = 1 THEN m.output_rate ELSE m.input_rate END AS token_rate,
                CASE WHEN s.is_output = 1 THEN 20 + CAST(floor(pow(s.size_draw, 3) * 40000) AS BIGINT)
                     ELSE 100 + CAST(floor(pow(s.size_draw, 3) * 400000) AS BIGINT) END AS tokens,
                nm.name || CASE WHEN s.user_index >= {len(FIRST_NAMES)}
                    THEN CAST(s.user_index // {len(FIRST_NAMES)} AS VARCHAR) ELSE '' END AS user_name
            FROM shaped AS s
            JOIN synth_models AS m ON m.t = s.t AND m.k = s.k
            JOIN synth_names AS nm ON nm.n = s.user_index % {len(FIRST_NAMES)}
        )
        SELECT
            printf('%016x', hash(i, {int(seed)}, 99)) AS line_id,
            usage_start,
            '{account_id}' AS account_id,
            CASE WHEN oddity_draw < 0.003 THEN 'Tax' ELSE 'Usage' END AS line_item_type,
            'AmazonBedrock' AS product_code,
            'Amazon Bedrock' AS product_name,
            '{REGION}' AS region,
            '{REGION_PREFIX}-' || usage_name
                || CASE WHEN is_output = 1 THEN '-output-tokens' ELSE '-input-tokens' END AS usage_type,
            'InvokeModelInference' AS operation,
            CASE WHEN {bypass} THEN 'arn:aws:bedrock:{REGION}::foundation-model/' || usage_name
                 ELSE resource_id END AS resource_id,
            CAST(tokens AS DOUBLE) AS usage_amount,
            'Tokens' AS pricing_unit,
            CAST(token_rate AS DECIMAL(38, 10)) AS rate,
            CAST(tokens * token_rate AS DECIMAL(38, 10)) AS cost,
            'Amazon Bedrock ' || usage_name || CASE WHEN is_output = 1 THEN ' output' ELSE ' input' END
                || ' tokens' AS description,
            -- 2% of calls bypass the gateway: a developer's own IAM user on the foundation model, untagged
            CASE WHEN {bypass} THEN 'arn:aws:iam::{account_id}:user/dev-' || user_name
                 ELSE 'arn:aws:sts::{account_id}:assumed-role/{prefix}' || tenant_id
                      || '-invoker/' || user_name
            END AS principal,
            CASE WHEN {bypass} THEN MAP {{}}::MAP(VARCHAR, VARCHAR)
                 ELSE MAP {{'user_applicationId': application_id, 'user_costCenter': cost_center,
                            'user_environment': environment}} END AS tags
        FROM bedrock
        WHERE kind_draw >= 0.08
        UNION ALL
        SELECT
            printf('%016x', hash(i, {int(seed)}, 99)) AS line_id,
            usage_start,
            '{account_id}' AS account_id,
            'Usage' AS line_item_type,
            o.product_code,
            o.product_code AS product_name,
            '{REGION}' AS region,
            o.usage_type,
            o.operation,
            'arn:aws:' || lower(o.product_code) || ':{REGION}:{account_id}:resource/' || tenant_id
                AS resource_id,
            CAST(1 + floor(size_draw * 100) AS DOUBLE) AS usage_amount,
            o.pricing_unit,
            CAST(o.rate AS DECIMAL(38, 10)) AS rate,
            CAST((1 + floor(size_draw * 100)) * o.rate AS DECIMAL(38, 10)) AS cost,
            o.usage_type AS description,
            '' AS principal,
            MAP {{'user_applicationId': application_id, 'user_costCenter': cost_center}} AS tags
        FROM shaped
        JOIN synth_other AS o ON o.k = CAST(floor(model_draw * {len(OTHER_SERVICES)}) AS INTEGER)
        WHERE kind_draw < 0.08
    """)  # noqa: S608 - inlined values are validated numbers, dates and the 12-digit account id
    return _write(con, out_dir)


def write_tenants_json(path: Path, rows: int, tenants: Sequence[SynthTenant] = DEFAULT_TENANTS) -> Path:
    """The synthetic tenants and budgets in the limits-JSON format `chargeback --limits` reads."""
    scale = Decimal(rows) / Decimal(100_000)
    document = {
        tenant.tenant_id: {
            "applicationId": tenant.application_id,
            "costCenter": tenant.cost_center,
            "environment": tenant.environment,
            "limitUsd": str(
                max((tenant.budget_per_100k_rows * scale).quantize(Decimal("0.01")), Decimal("0.01"))
            ),
            "period": tenant.budget_period,
        }
        for tenant in tenants
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def _call_time(sort_key: str) -> datetime:
    # sk = CALL#<ISO-8601 UTC>#<requestId>
    parts = sort_key.split("#")
    if len(parts) < 3 or parts[0] != "CALL":
        raise SynthError(f"not a call record sort key: {sort_key!r}")
    moment = datetime.fromisoformat(parts[1].replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def synthesize_from_calls(
    calls: Iterable[Mapping[str, Any]],
    out_dir: Path,
    account_id: str = "111111111111",
    name_prefix: str = "cost-sentry",
    cost_drift: Mapping[str, Decimal] | None = None,
    connection: Any = None,
) -> list[Path]:
    """The hourly CUR 2.0 Bedrock line items AWS would bill for these ledger call records.

    Cost is priced from the model catalog (as AWS prices usage), not copied from `cost_nanos`, so
    a gateway pricing error would show up in reconciliation. `cost_drift` multiplies one tenant's
    billed cost (e.g. {"services": Decimal("1.05")}) to plant a difference on purpose.
    """
    import duckdb

    if not re.match(r"^\d{12}$", account_id):
        raise SynthError(f"account id must be 12 digits, got {account_id!r}")
    prices = load_prices()
    drift = dict(cost_drift or {})
    # CUR 2.0 hourly granularity: one line per hour, principal, resource and usage type.
    buckets: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    for call in calls:
        tenant_id = str(call["pk"])
        model = str(call["model"])
        if model not in prices:
            raise SynthError(f"call {call.get('sk')}: model {model!r} is not in the catalog")
        hour = _call_time(str(call["sk"])).replace(minute=0, second=0, microsecond=0, tzinfo=None)
        user = str(call.get("user") or f"{tenant_id}-app")
        principal = str(call.get("principal") or "")
        if not principal.startswith("arn:"):
            principal = invoker_principal(account_id, name_prefix, tenant_id, user)
        resource = str(call.get("modelId") or profile_arn(account_id, tenant_id, model))
        tags = (
            ("user_applicationId", str(call.get("applicationId") or "")),
            ("user_costCenter", str(call.get("costCenter") or "")),
            ("user_environment", str(call.get("environment") or "")),
        )
        input_rate, output_rate, _ = prices[model]
        factor = drift.get(tenant_id, Decimal(1))
        for direction, tokens, rate in (
            ("input", int(call.get("input_tokens", 0)), input_rate),
            ("output", int(call.get("output_tokens", 0)), output_rate),
        ):
            if tokens <= 0:
                continue
            key = (hour, tenant_id, principal, resource, usage_type_for(model, direction), rate, tags)
            buckets[key][0] += tokens
            buckets[key][1] += tokens * rate * factor
    if not buckets:
        raise SynthError("no call records to turn into CUR line items")
    con = connection or duckdb.connect(":memory:")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE call_lines (line_id VARCHAR, usage_start TIMESTAMP, "
        "principal VARCHAR, resource_id VARCHAR, usage_type VARCHAR, usage_amount BIGINT, "
        "rate DECIMAL(38, 10), cost DECIMAL(38, 10), tag_keys VARCHAR[], tag_values VARCHAR[])"
    )
    records = []
    for number, (key, (tokens, cost)) in enumerate(sorted(buckets.items(), key=lambda item: str(item[0]))):
        hour, _, principal, resource, usage_type, rate, tags = key
        records.append(
            (
                f"{number:016x}",
                hour,
                principal,
                resource,
                usage_type,
                tokens,
                rate.quantize(Decimal("1e-10")),
                cost.quantize(Decimal("1e-10")),
                [k for k, v in tags if v],
                [v for _, v in tags if v],
            )
        )
    con.executemany("INSERT INTO call_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW source AS
        SELECT
            line_id, usage_start, '{account_id}' AS account_id, 'Usage' AS line_item_type,
            'AmazonBedrock' AS product_code, 'Amazon Bedrock' AS product_name, '{REGION}' AS region,
            usage_type, 'InvokeModelInference' AS operation, resource_id,
            CAST(usage_amount AS DOUBLE) AS usage_amount, 'Tokens' AS pricing_unit, rate, cost,
            'Amazon Bedrock ' || usage_type AS description, principal,
            map_from_entries(list_zip(tag_keys, tag_values)::STRUCT(k VARCHAR, v VARCHAR)[]) AS tags
        FROM call_lines
    """)  # noqa: S608 - inlined values are validated numbers, dates and the 12-digit account id
    return _write(con, out_dir)


def ledger_cost_usd(call: Mapping[str, Any]) -> Decimal:
    return nanos_to_usd(int(call.get("cost_nanos", 0)))
