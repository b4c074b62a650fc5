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

from scripts import REPO_ROOT

MODELS_JSON = REPO_ROOT / "lambda_src" / "cost_sentry" / "data" / "models.json"
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


def invoker_role_names(tenants: Sequence[SynthTenant], name_prefix: str) -> dict[str, str]:
    """Each synthetic tenant's invoker role as Terraform names it: the tenants are evaluated by the tenant
    contract itself (modules/tenants, planned offline, cached by the input's hash; under a second)."""
    from scripts.testbed.terraform_offline.outputs import PlanError, plan_output_values

    def hcl(value: Any) -> str:
        return json.dumps(value)  # strings, numbers and lists of strings read the same in HCL

    entries = "\n".join(
        f"  {tenant.tenant_id} = {{ application_id = {hcl(tenant.application_id)}, cost_center = "
        f"{hcl(tenant.cost_center)}, environment = {hcl(tenant.environment)}, models = "
        f"{hcl(list(tenant.models))}, budget = {{ limit_usd = 1, period = {hcl(tenant.budget_period)} }} }}"
        for tenant in tenants
    )
    known = sorted({model for tenant in tenants for model in tenant.models})
    tfvars = (
        f'name_prefix  = {hcl(name_prefix)}\nenvironment  = "synthetic"\nknown_models = {hcl(known)}\n'
        f"tenants = {{\n{entries}\n}}\n"
    )
    try:
        planned = plan_output_values(REPO_ROOT / "modules" / "tenants", tfvars_text=tfvars)
    except PlanError as error:
        raise SynthError(f"the synthetic tenants do not pass the tenant contract: {error}") from error
    return {tenant_id: str(entry["invoker_role_name"]) for tenant_id, entry in planned["tenants"].items()}


def session_principal(account_id: str, role_name: str, session_name: str) -> str:
    """The STS principal CUR 2.0 records for a role session (AWS's ARN format)."""
    return f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session_name}"


def profile_arn(account_id: str, tenant_id: str, model: str) -> str:
    import hashlib

    profile_id = hashlib.sha256(f"{tenant_id}/{model}".encode()).hexdigest()[:12]
    return f"arn:aws:bedrock:{REGION}:{account_id}:application-inference-profile/{profile_id}"


# The CUR 2.0 columns, projected from the generators' common intermediate columns so both generators
# write the same names and types. Everything costly per row (strings, maps, rates as text) is looked up
# from small dimension tables by the sources instead of being built here for every row.
_CUR_PROJECTION = """
SELECT
    line_id AS identity_line_item_id,
    interval_text AS identity_time_interval,
    'Anniversary' AS bill_bill_type,
    'AWS' AS bill_billing_entity,
    period_start AS bill_billing_period_start_date,
    period_end AS bill_billing_period_end_date,
    account_id AS bill_payer_account_id,
    'Cost Sentry Org' AS bill_payer_account_name,
    account_id AS line_item_usage_account_id,
    'workload' AS line_item_usage_account_name,
    line_item_type AS line_item_line_item_type,
    usage_start AS line_item_usage_start_date,
    usage_end AS line_item_usage_end_date,
    product_code AS line_item_product_code,
    usage_type AS line_item_usage_type,
    operation AS line_item_operation,
    resource_id AS line_item_resource_id,
    usage_amount AS line_item_usage_amount,
    'USD' AS line_item_currency_code,
    rate_text AS line_item_unblended_rate,
    cost AS line_item_unblended_cost,
    rate_text AS line_item_blended_rate,
    cost AS line_item_blended_cost,
    description AS line_item_line_item_description,
    principal AS line_item_iam_principal,
    cost AS pricing_public_on_demand_cost,
    rate_text AS pricing_public_on_demand_rate,
    'OnDemand' AS pricing_term,
    pricing_unit AS pricing_unit,
    product_code AS product_servicecode,
    region AS product_region_code,
    product AS product,
    tags AS resource_tags,
    -- what a delivery also carries and the FOCUS export reads (no commitments in this organisation)
    'INV-' || strftime(period_start, '%Y%m') AS bill_invoice_id,
    'Amazon Web Services, Inc.' AS bill_invoicing_entity,
    'Amazon Web Services, Inc.' AS line_item_legal_entity,
    '' AS line_item_availability_zone,
    usage_type AS product_sku,
    '' AS reservation_reservation_a_r_n,
    CAST(NULL AS DOUBLE) AS reservation_effective_cost,
    CAST(NULL AS DOUBLE) AS reservation_unused_amortized_upfront_fee_for_billing_period,
    CAST(NULL AS DOUBLE) AS reservation_unused_recurring_fee,
    CAST(NULL AS DOUBLE) AS savings_plan_savings_plan_effective_cost,
    CAST(NULL AS DOUBLE) AS savings_plan_total_commitment_to_date,
    CAST(NULL AS DOUBLE) AS savings_plan_used_commitment
FROM {source}
"""


def _hours_table(connection: Any, start: date, end: date) -> None:
    """One row per usage hour: the per-hour strings and billing period bounds, computed once."""
    connection.execute(
        """
        CREATE OR REPLACE TEMP TABLE synth_hours AS
        SELECT
            CAST(h AS INTEGER) AS h,
            usage_start,
            usage_start + INTERVAL 1 HOUR AS usage_end,
            strftime(usage_start, '%Y-%m-%dT%H:%M:%SZ') || '/'
                || strftime(usage_start + INTERVAL 1 HOUR, '%Y-%m-%dT%H:%M:%SZ') AS interval_text,
            CAST(date_trunc('month', usage_start) AS TIMESTAMP) AS period_start,
            CAST(date_trunc('month', usage_start) + INTERVAL 1 MONTH AS TIMESTAMP) AS period_end,
            strftime(usage_start, '%Y-%m') AS billing_period
        FROM (
            SELECT h, CAST(? AS TIMESTAMP) + to_hours(h) AS usage_start
            FROM range(CAST(date_diff('hour', CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP)) AS BIGINT)) AS r(h)
        )
        """,
        [start, start, end],
    )


def _write_period(connection: Any, source: str, out_dir: Path, billing_period: str) -> Path:
    # Data Exports delivers snappy-compressed Parquet, named like this
    target = out_dir / f"BILLING_PERIOD={billing_period}" / "part-00000.snappy.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    escaped = str(target).replace("'", "''")
    connection.execute(
        f"COPY ({_CUR_PROJECTION.format(source=source)}) TO '{escaped}' (FORMAT parquet, COMPRESSION snappy)"
    )
    return target


def _check_empty(out_dir: Path) -> None:
    # Old partitions next to new ones would silently become part of every report over the directory.
    if out_dir.exists() and any(out_dir.rglob("*.parquet")):
        raise SynthError(f"{out_dir} already holds Parquet files; write into an empty directory")


def _check_range(start: date, end: date) -> None:
    if end <= start:
        raise SynthError(f"--end ({end}) must be after --start ({start})")
    if (end - start).days > 3 * 366:
        raise SynthError("the date range is limited to three years")


def _months(start: date, end: date) -> list[tuple[str, int, int]]:
    """(YYYY-MM, first hour offset, end hour offset) of every billing period in [start, end)."""
    months = []
    cursor = start
    while cursor < end:
        following = date(cursor.year + cursor.month // 12, cursor.month % 12 + 1, 1)
        stop = min(following, end)
        months.append((cursor.strftime("%Y-%m"), (cursor - start).days * 24, (stop - start).days * 24))
        cursor = stop
    return months


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
    """Write `rows` synthetic CUR 2.0 line items for [start, end) under `out_dir`; returns the files.

    Row i is billed in hour floor(i * hours / rows), so line items come in time order and each billing
    period is one contiguous slice of rows, written as its own partition.
    """
    import duckdb

    if rows <= 0:
        raise SynthError("--rows must be positive")
    if not 0 <= seed < 2**31:
        raise SynthError("--seed must be between 0 and 2^31-1")
    if not re.match(r"^\d{12}$", account_id):
        raise SynthError(f"account id must be 12 digits, got {account_id!r}")
    _check_range(start, end)
    _check_empty(out_dir)
    prices = load_prices()
    for tenant in tenants:
        for model in tenant.models:
            if model not in prices:
                raise SynthError(f"tenant {tenant.tenant_id}: model {model!r} is not in {MODELS_JSON.name}")
    role_names = invoker_role_names(tenants, name_prefix)
    con = connection or duckdb.connect(":memory:")
    _hours_table(con, start, end)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE synth_tenants (t INTEGER, tenant_id VARCHAR, users INTEGER, "
        "model_count INTEGER, tags MAP(VARCHAR, VARCHAR), other_tags MAP(VARCHAR, VARCHAR))"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE synth_models (t INTEGER, k INTEGER, is_output INTEGER, "
        "usage_type VARCHAR, rate DECIMAL(38, 12), rate_text VARCHAR, description VARCHAR, "
        "resource_id VARCHAR, foundation_arn VARCHAR, product MAP(VARCHAR, VARCHAR))"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE synth_users "
        "(t INTEGER, u INTEGER, principal VARCHAR, direct_principal VARCHAR)"
    )
    for t, tenant in enumerate(tenants):
        tags = {
            "user_applicationId": tenant.application_id,
            "user_costCenter": tenant.cost_center,
            "user_environment": tenant.environment,
        }
        other = {"user_applicationId": tenant.application_id, "user_costCenter": tenant.cost_center}
        con.execute(
            "INSERT INTO synth_tenants VALUES (?, ?, ?, ?, MAP(?::VARCHAR[], ?::VARCHAR[]), "
            "MAP(?::VARCHAR[], ?::VARCHAR[]))",
            [
                t,
                tenant.tenant_id,
                tenant.users,
                len(tenant.models),
                list(tags),
                list(tags.values()),
                list(other),
                list(other.values()),
            ],
        )
        for k, model in enumerate(tenant.models):
            input_rate, output_rate, model_id = prices[model]
            for is_output, rate in ((0, input_rate), (1, output_rate)):
                direction = "output" if is_output else "input"
                usage_type = usage_type_for(model, direction)
                con.execute(
                    "INSERT INTO synth_models VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "MAP {'product_name': 'Amazon Bedrock', 'region': ?})",
                    [
                        t,
                        k,
                        is_output,
                        usage_type,
                        rate,
                        f"{rate:.10f}",
                        f"Amazon Bedrock {USAGE_TYPE_MODEL_NAMES[model]} {direction} tokens",
                        profile_arn(account_id, tenant.tenant_id, model),
                        f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}",
                        REGION,
                    ],
                )
        for u in range(tenant.users):
            name = FIRST_NAMES[u % len(FIRST_NAMES)] + (
                str(u // len(FIRST_NAMES)) if u >= len(FIRST_NAMES) else ""
            )
            con.execute(
                "INSERT INTO synth_users VALUES (?, ?, ?, ?)",
                [
                    t,
                    u,
                    session_principal(account_id, role_names[tenant.tenant_id], name),
                    f"arn:aws:iam::{account_id}:user/dev-{name}",
                ],
            )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE synth_other (k INTEGER, product_code VARCHAR, usage_type VARCHAR, "
        "operation VARCHAR, pricing_unit VARCHAR, rate DECIMAL(38, 12), rate_text VARCHAR, "
        "product MAP(VARCHAR, VARCHAR), resource_prefix VARCHAR)"
    )
    for k, (code, usage_type, operation, unit, rate) in enumerate(OTHER_SERVICES):
        con.execute(
            "INSERT INTO synth_other VALUES (?, ?, ?, ?, ?, ?, ?, MAP {'product_name': ?, 'region': ?}, ?)",
            [
                k,
                code,
                usage_type,
                operation,
                unit,
                Decimal(rate),
                f"{Decimal(rate):.10f}",
                code,
                REGION,
                f"arn:aws:{code.lower()}:{REGION}:{account_id}:resource/tenant-",
            ],
        )
    hours = (end - start).days * 24
    tenant_count = len(tenants)
    bypass = "d.oddity_draw BETWEEN 0.005 AND 0.025"
    # u(i, salt): a uniform number in [0, 1) that depends only on the row, the seed and the salt, so the
    # data is the same for a seed however DuckDB schedules its threads.
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO u(i, salt) AS (hash(i, {int(seed)}, salt) % 1000003) / 1000003.0"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP MACRO synth_rows(lo, hi) AS TABLE
        WITH draws AS (
            SELECT
                i,
                -- 8% of rows are other services, the rest Bedrock token usage
                u(i, 1) < 0.08 AS is_other,
                -- tenants and users are skewed so that a few stand out, like real traffic
                CAST(floor(pow(u(i, 2), 1.6) * {tenant_count}) AS INTEGER) AS t,
                u(i, 3) AS model_draw,
                u(i, 4) AS user_draw,
                u(i, 6) AS size_draw,
                u(i, 7) AS oddity_draw,
                CAST(i % 2 AS INTEGER) AS is_output,
                CAST((i * {hours}) // {int(rows)} AS INTEGER) AS h
            FROM range(lo, hi) AS r(i)
        ),
        shaped AS (
            SELECT
                d.*, tn.tags, tn.other_tags, hr.usage_start, hr.usage_end, hr.interval_text, hr.period_start,
                hr.period_end,
                CAST(floor(d.model_draw * tn.model_count) AS INTEGER) AS k,
                CAST(floor(d.model_draw * {len(OTHER_SERVICES)}) AS INTEGER) AS other_k,
                CAST(floor(pow(d.user_draw, 2.0) * tn.users) AS INTEGER) AS u,
                {bypass} AS bypass,
                CAST(CASE WHEN d.is_output = 1 THEN 20 + floor(pow(d.size_draw, 3) * 40000)
                          ELSE 100 + floor(pow(d.size_draw, 3) * 400000) END AS BIGINT) AS tokens,
                CAST(1 + floor(d.size_draw * 100) AS BIGINT) AS other_units
            FROM draws AS d
            JOIN synth_tenants AS tn USING (t)
            JOIN synth_hours AS hr USING (h)
        )
        -- one pipeline for both kinds of rows (a UNION over `shaped` would materialise it in memory)
        SELECT
            printf('%016x', hash(s.i, {int(seed)}, 99)) AS line_id, s.interval_text, s.period_start,
            s.period_end, '{account_id}' AS account_id,
            CASE WHEN NOT s.is_other AND s.oddity_draw < 0.003 THEN 'Tax' ELSE 'Usage' END AS line_item_type,
            s.usage_start, s.usage_end,
            CASE WHEN s.is_other THEN o.product_code ELSE 'AmazonBedrock' END AS product_code,
            CASE WHEN s.is_other THEN o.usage_type ELSE m.usage_type END AS usage_type,
            CASE WHEN s.is_other THEN o.operation ELSE 'InvokeModelInference' END AS operation,
            CASE WHEN s.is_other THEN o.resource_prefix || CAST(s.t AS VARCHAR)
                 WHEN s.bypass THEN m.foundation_arn ELSE m.resource_id END AS resource_id,
            CAST(CASE WHEN s.is_other THEN s.other_units ELSE s.tokens END AS DOUBLE) AS usage_amount,
            CASE WHEN s.is_other THEN o.rate_text ELSE m.rate_text END AS rate_text,
            CAST(CASE WHEN s.is_other THEN s.other_units * o.rate ELSE s.tokens * m.rate END AS DOUBLE)
                AS cost,
            CASE WHEN s.is_other THEN o.usage_type ELSE m.description END AS description,
            -- 2% of Bedrock calls bypass the gateway: a developer's own IAM user on the foundation model
            CASE WHEN s.is_other THEN '' WHEN s.bypass THEN us.direct_principal ELSE us.principal END
                AS principal,
            CASE WHEN s.is_other THEN o.pricing_unit ELSE 'Tokens' END AS pricing_unit,
            '{REGION}' AS region,
            CASE WHEN s.is_other THEN o.product ELSE m.product END AS product,
            CASE WHEN s.is_other THEN s.other_tags WHEN s.bypass THEN MAP {{}}::MAP(VARCHAR, VARCHAR)
                 ELSE s.tags END AS tags
        FROM shaped AS s
        JOIN synth_models AS m ON m.t = s.t AND m.k = s.k AND m.is_output = s.is_output
        JOIN synth_users AS us ON us.t = s.t AND us.u = s.u
        JOIN synth_other AS o ON o.k = s.other_k
        """  # noqa: S608 - inlined values are validated numbers and the 12-digit account id
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for billing_period, first_hour, end_hour in _months(start, end):
        # rows of this period: the i with first_hour <= i * hours // rows < end_hour
        lo = -(-first_hour * rows // hours)
        hi = -(-end_hour * rows // hours)
        if hi > lo:
            files.append(_write_period(con, f"synth_rows({lo}, {hi})", out_dir, billing_period))
    return files


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
    own_principal: str = "",
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
    _check_empty(out_dir)
    prices = load_prices()
    drift = dict(cost_drift or {})
    # CUR 2.0 hourly granularity: one line per hour, principal, resource and usage type.
    buckets: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    from scripts.cli.reports.sagemaker import is_sagemaker_call

    for call in calls:
        if is_sagemaker_call(call):
            continue  # a shared endpoint bills instance-hours (sagemaker.synthesize_endpoint_hours)
        tenant_id = str(call["tenant"])
        model = str(call["model"])
        if model not in prices:
            raise SynthError(f"call {call.get('sk')}: model {model!r} is not in the catalog")
        hour = _call_time(str(call["sk"])).replace(minute=0, second=0, microsecond=0, tzinfo=None)
        # Who Bedrock billed: the record's principal (the per-user session), else the gateway's own
        # role session (``own_principal``: the workload root's gateway_principals output).
        principal = str(call.get("principal") or "") or own_principal
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
    first = min(key[0] for key in buckets)
    last = max(key[0] for key in buckets)
    _hours_table(con, first.date(), date.fromordinal(last.date().toordinal() + 1))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE call_lines (line_id VARCHAR, usage_start TIMESTAMP, principal VARCHAR, "
        "resource_id VARCHAR, usage_type VARCHAR, usage_amount BIGINT, rate DECIMAL(38, 10), "
        "cost DECIMAL(38, 10), tag_keys VARCHAR[], tag_values VARCHAR[])"
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
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW call_source AS
        SELECT
            c.line_id, h.interval_text, h.period_start, h.period_end, h.billing_period,
            '{account_id}' AS account_id, 'Usage' AS line_item_type, h.usage_start, h.usage_end,
            'AmazonBedrock' AS product_code, c.usage_type, 'InvokeModelInference' AS operation, c.resource_id,
            CAST(c.usage_amount AS DOUBLE) AS usage_amount, CAST(c.rate AS VARCHAR) AS rate_text,
            CAST(c.cost AS DOUBLE) AS cost, 'Amazon Bedrock ' || c.usage_type AS description, c.principal,
            'Tokens' AS pricing_unit, '{REGION}' AS region,
            MAP {{'product_name': 'Amazon Bedrock', 'region': '{REGION}'}} AS product,
            MAP(c.tag_keys, c.tag_values) AS tags
        FROM call_lines AS c JOIN synth_hours AS h ON h.usage_start = c.usage_start
        """  # noqa: S608 - only the validated 12-digit account id is inlined
    )
    periods = [
        row[0] for row in con.execute("SELECT DISTINCT billing_period FROM call_source ORDER BY 1").fetchall()
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    # `period` is DuckDB's own strftime('%Y-%m') output, never caller text
    sources = {period: f"(SELECT * FROM call_source WHERE billing_period = '{period}')" for period in periods}  # noqa: S608
    return [_write_period(con, sources[period], out_dir, period) for period in periods]
