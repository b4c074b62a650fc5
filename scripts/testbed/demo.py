"""``make demo``: the main job on emulators: three cost centers spend their budgets until the gateway says no.

1. Start the local stack for the workload account (moto, the Bedrock stand-in, the gateway's HTTP front).
2. Send realistic traffic from sales, services and support at once, over HTTP, on several models, with
   a few Bedrock faults injected, until every tenant is denied (HTTP 429) or the time box runs out.
3. Print a per-tenant summary: approved / denied / failed requests (as the callers saw them), tokens and
   spend against the limit (from the ledger), and the metrics CloudWatch would compute from the
   gateway's EMF output.
4. Build the chargeback report (scripts.cli.reports) from the ledger's call records into build/demo/.

Before the traffic, every tenant sends a few calls to a SageMaker endpoint they share (the SageMaker
runtime stand-in), and the demo prints how that endpoint's instance-hours split across them by tokens.

5. Pacing and shadow mode, on a second local stack whose tenants are Terraform-evaluated tfvars too: a
   paced tenant is stopped by its pace (``pace_exceeded``, with the moment it fits) long before its
   limit, and a tenant in shadow mode (``enforce = false``) is refused nothing while every would-be
   denial is recorded (header, WouldDeny metric, log line) and the ledger records its spend past the
   limit exactly.

Everything runs in this process on 127.0.0.1 and stops on exit: no stray processes, ports or temporary
files; the report in build/demo/ is the one output that stays.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from scripts import REPO_ROOT
from scripts.cli.reports.money import plural
from scripts.testbed.emulators.sagemaker_runtime import SageMakerRuntimeStub, shared_endpoint_environment
from scripts.testbed.local_stack import LocalStack, TenantAccess, account_outputs
from scripts.testbed.terraform_offline.outputs import PlanError, account_root

WORKLOAD_TFVARS = REPO_ROOT / "terraform" / "accounts" / "workload" / "terraform.tfvars"
DEFAULT_REPORT_DIR = REPO_ROOT / "build" / "demo"
TIME_BOX_SECONDS = 75
# A tenant whose budget is gone keeps getting 429s; after this many in a row its workers stop.
STOP_AFTER_CONSECUTIVE_DENIALS = 6
WORKERS_PER_TENANT = 3
NANOS_PER_USD = Decimal(1_000_000_000)


@dataclass(frozen=True)
class TrafficProfile:
    """How a cost center uses the gateway: which models, how often, and what it asks."""

    models: Sequence[tuple[str, int]]  # (short model name, weight)
    tasks: Sequence[str]
    vocabulary: Sequence[str]
    context_sentences: tuple[int, int]  # how long the pasted context is, in sentences
    max_tokens: int


PROFILES: dict[str, TrafficProfile] = {
    "sales": TrafficProfile(
        models=[("claude-3-haiku", 3), ("nova-micro", 1)],
        tasks=[
            "Draft a follow-up email to the customer below that proposes a pilot and next steps.",
            "Summarise this account history for a quarterly business review in five bullet points.",
            "List the objections raised in these call notes and suggest an answer to each.",
        ],
        vocabulary=[
            "The customer renewed the platform licence for another year after the pricing review.",
            "Their procurement team asked for a volume discount on the analytics add-on.",
            "The champion moved to a new role, so the budget holder is now the finance director.",
            "A competitor offered a free migration, which the customer mentioned twice on the call.",
            "Usage grew by forty percent in the last quarter, mostly in the European subsidiaries.",
            "The security questionnaire is still open and blocks the signature of the order form.",
        ],
        context_sentences=(200, 300),
        max_tokens=1400,  # claude-3-haiku finishes 1440 within /v1/converse's limit
    ),
    "services": TrafficProfile(
        models=[("claude-3-5-haiku", 3), ("claude-3-haiku", 1), ("nova-lite", 1)],
        tasks=[
            "Write a status report for the steering committee from the project log below.",
            "Turn these workshop notes into a statement of work with scope, deliverables and risks.",
            "Estimate the remaining effort from this task list and flag anything at risk.",
        ],
        vocabulary=[
            "The data migration finished two days late because the source schema had changed.",
            "The client asked to add single sign-on to the scope of the second phase.",
            "User acceptance testing found eleven defects, three of them blocking.",
            "The integration with the billing system needs a new API version from the vendor.",
            "The team rotated two consultants, and the onboarding took most of the sprint.",
            "Cut-over is planned for the first weekend of next month with a rollback window.",
        ],
        context_sentences=(180, 260),
        max_tokens=700,  # claude-3-5-haiku finishes 720 within /v1/converse's limit
    ),
    "support": TrafficProfile(
        models=[("nova-micro", 3), ("nova-lite", 2)],
        tasks=[
            "Classify this ticket by product area and urgency and draft a first reply.",
            "Summarise the conversation below for the next shift and list open actions.",
            "Suggest knowledge-base articles for the problem described in this ticket.",
        ],
        vocabulary=[
            "The customer cannot log in since the password reset email never arrives.",
            "Exports to CSV time out when the report covers more than one year of data.",
            "The mobile app crashes on start after the latest update on older phones.",
            "An invoice shows the wrong tax rate for the customer's new billing address.",
            "The agent already cleared the cache and asked for a screenshot of the error.",
            "The customer is on the enterprise plan and mentions a contractual response time.",
        ],
        context_sentences=(200, 300),
        max_tokens=2048,
    ),
}

# Bedrock trouble the gateway has to absorb honestly: (tenant, model, stand-in fault mode, count).
INJECTED_FAULTS = [("services", "claude-3-5-haiku", "internal", 3), ("sales", "nova-micro", "throttle", 4)]


def build_prompt(profile: TrafficProfile, rng: random.Random) -> tuple[str, str]:
    model = rng.choices([m for m, _ in profile.models], weights=[w for _, w in profile.models])[0]
    sentences = rng.randint(*profile.context_sentences)
    context = " ".join(rng.choice(profile.vocabulary) for _ in range(sentences))
    return model, f"{rng.choice(profile.tasks)}\n\n{context}"


# --------------------------------------------------------------------------------------------------
# Traffic
# --------------------------------------------------------------------------------------------------


@dataclass
class TenantTally:
    approved: int = 0
    denied: int = 0
    failed: int = 0
    rejected: int = 0
    consecutive_denials: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    first_denial_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def exhausted(self) -> bool:
        return self.consecutive_denials >= STOP_AFTER_CONSECUTIVE_DENIALS


# The people behind each tenant's traffic (None: the application itself, with no end user). The gateway
# runs each one's calls in its own STS session, so the chargeback names them as CUR 2.0 would.
USERS: dict[str, tuple[str | None, ...]] = {
    "sales": ("maria.lopez@example.com", "jon.baker@example.com", None),
    "services": ("priya.nair@example.com", "tom.weiss@example.com", "ana.costa@example.com"),
    "support": ("triage-bot", None),
}


def post(url: str, api_key: str, body: dict[str, Any], user: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"x-api-key": api_key, "content-type": "application/json"}
    if user is not None:
        headers["x-cost-sentry-user"] = user
    request = urllib.request.Request(  # noqa: S310 - the local stack's http://127.0.0.1 URL
        url,
        data=json.dumps(body).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - local URL
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return error.code, json.loads(payload or b"{}")
        except ValueError:
            return error.code, {
                "error": {"code": "non_json", "message": payload[:200].decode(errors="replace")}
            }


def classify(status: int, document: dict[str, Any]) -> str:
    """approved | denied (a tenant limit said no) | failed (Bedrock or the gateway failed) | rejected."""
    code = str(document.get("error", {}).get("code", ""))
    if status == 200:
        return "approved"
    if status == 429 and "bedrock" not in code and "upstream" not in code:
        return "denied"
    if status >= 429:
        return "failed"
    return "rejected"


def tenant_worker(
    stack: LocalStack,
    tenant: TenantAccess,
    tally: TenantTally,
    seed: int,
    deadline: float,
    say: Callable[[str], None],
    started: float,
) -> None:
    profile = PROFILES[tenant.cost_center] if tenant.cost_center in PROFILES else PROFILES["sales"]
    rng = random.Random(seed)
    while time.monotonic() < deadline and not tally.exhausted:
        model, text = build_prompt(profile, rng)
        body = tenant.request_body(text, model=model, max_tokens=profile.max_tokens)
        user = rng.choice(USERS.get(tenant.tenant_id, (None,)))
        status, document = post(f"{stack.gateway_url}/v1/converse", tenant.api_key, body, user)
        outcome = classify(status, document)
        code = document.get("error", {}).get("code", "ok")
        with tally.lock:
            setattr(tally, outcome, getattr(tally, outcome) + 1)
            tally.codes[f"{status} {code}"] += 1
            tally.consecutive_denials = tally.consecutive_denials + 1 if outcome == "denied" else 0
            first_denial = outcome == "denied" and tally.first_denial_at is None
            if first_denial:
                tally.first_denial_at = time.monotonic() - started
            show = first_denial or (outcome == "approved" and tally.approved <= 2) or outcome == "failed"
        if show:
            elapsed = time.monotonic() - started
            if outcome == "approved":
                usage = document.get("usage", {})
                detail = f"{model}, {json.dumps(usage, separators=(',', ':'))}"
            else:
                detail = document.get("error", {}).get("message", "")
            say(f"[{elapsed:5.1f}s] {tenant.tenant_id:<9} {status} {outcome:<8} {detail}")


def send_traffic(stack: LocalStack, say: Callable[[str], None], time_box: float) -> dict[str, TenantTally]:
    tallies = {tenant_id: TenantTally() for tenant_id in stack.tenants}
    started = time.monotonic()
    deadline = started + time_box
    with ThreadPoolExecutor(max_workers=WORKERS_PER_TENANT * len(stack.tenants)) as pool:
        futures = [
            pool.submit(tenant_worker, stack, tenant, tallies[tenant_id], seed, deadline, say, started)
            for index, (tenant_id, tenant) in enumerate(stack.tenants.items())
            for seed in range(index * 100, index * 100 + WORKERS_PER_TENANT)
        ]
        for future in futures:
            future.result()
    say(f"traffic done in {time.monotonic() - started:.1f}s")
    return tallies


# --------------------------------------------------------------------------------------------------
# Summary: the callers' view, the ledger's, and the metrics'
# --------------------------------------------------------------------------------------------------


def period_counters(stack: LocalStack, tenant_id: str) -> dict[str, int]:
    """The tenant's period counters (head and shards summed) and its outstanding holds, from the ledger
    (fresh tables: the current period only)."""
    from cost_sentry.adapters.ledger import read_tenant_holds, read_tenant_items

    totals: Counter[str] = Counter()
    client = stack.client("dynamodb")
    # The tenant's items span its partitions (one per shard): the ledger's own readers find them all.
    for item in read_tenant_items(client, stack.ledger_table, tenant_id, "PERIOD#"):
        # The period's shards carry its counters; summed, they are the tenant's period.
        for name in ("spent_nanos", "requests", "input_tokens", "output_tokens"):
            if name in item:
                totals[name] += int(item[name]["N"])
    # In-flight reservations (docs/design.md section 4).
    totals["holds"] += len(read_tenant_holds(client, stack.ledger_table, tenant_id))
    return dict(totals)


def estimated_calls(stack: LocalStack, tenant_id: str) -> int:
    """Call records charged at the worst case: failures Bedrock may have billed."""
    from cost_sentry.adapters.ledger import read_tenant_calls

    records = read_tenant_calls(stack.client("dynamodb"), stack.ledger_table, tenant_id)
    return sum(1 for record in records if record.get("estimated", {}).get("BOOL"))


def emf_totals(documents: Sequence[dict[str, Any]]) -> dict[str, Counter[str]]:
    """Sum the EMF metrics per CostCenter, as a CloudWatch query over the CostCenter dimension would."""
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for document in documents:
        center = str(document.get("CostCenter", "unknown"))
        for name in (
            "TotalRequests",
            "RateLimitApproved",
            "RateLimitDenied",
            "InvocationFailed",
            "InputTokens",
        ):
            totals[center][name] += int(document.get(name, 0))
        totals[center]["OutputTokens"] += int(document.get("OutputTokens", 0))
        totals[center]["CostNanos"] += int(Decimal(str(document.get("CostUSD", 0))) * NANOS_PER_USD)
    return totals


def usd(nanos: int) -> str:
    return f"${Decimal(nanos) / NANOS_PER_USD:.4f}"


def print_summary(stack: LocalStack, tallies: dict[str, TenantTally], limits_usd: dict[str, Decimal]) -> bool:
    """Print the tables; return whether the ledger, the metrics and the callers agree."""
    header = f"{'tenant':<9} {'approved':>8} {'denied':>6} {'failed':>6} {'in tokens':>10} {'out tokens':>10}"
    print(f"\n{header} {'spent':>10} {'limit':>8} {'used':>6}")
    consistent = True
    counters = {tenant_id: period_counters(stack, tenant_id) for tenant_id in stack.tenants}
    for tenant_id, tally in tallies.items():
        ledger = counters[tenant_id]
        spent = ledger.get("spent_nanos", 0)
        limit_nanos = int(limits_usd[tenant_id] * NANOS_PER_USD)
        used = Decimal(spent) * 100 / limit_nanos
        print(
            f"{tenant_id:<9} {tally.approved:>8} {tally.denied:>6} {tally.failed:>6} "
            f"{ledger.get('input_tokens', 0):>10} {ledger.get('output_tokens', 0):>10} "
            f"{usd(spent):>10} {usd(limit_nanos):>8} {used:>5.1f}%"
        )
        # A failure Bedrock may have billed is charged at the worst case (core/outcomes.py): counted too.
        estimated = estimated_calls(stack, tenant_id)
        if estimated:
            print(f"  {tenant_id}: {plural(estimated, 'failed call')} charged at the worst case (estimated)")
        if spent > limit_nanos:
            print(f"  ! {tenant_id}: spent {usd(spent)}, over its limit {usd(limit_nanos)}")
            consistent = False
        if ledger.get("requests", 0) != tally.approved + estimated:
            print(
                f"  ! {tenant_id}: the ledger counts {ledger.get('requests', 0)} charged requests, the callers "
                f"{tally.approved} answered + {estimated} estimated"
            )
            consistent = False
        if ledger.get("holds", 0):
            print(f"  ! {tenant_id}: {ledger['holds']} reservation(s) still held")
            consistent = False

    # RateLimitApproved counts every request the limits admitted, including those Bedrock then failed
    # (InvocationFailed): the callers' "approved" are the admitted ones that succeeded.
    print("\nWhat CloudWatch would chart from the gateway's EMF lines (dimension CostCenter):")
    print(
        f"{'costCenter':<10} {'requests':>8} {'admitted':>8} {'of which':>8} {'succeeded':>9} {'denied':>6} "
        f"{'CostUSD':>10}"
    )
    print(f"{'':<10} {'':>8} {'':>8} {'failed':>8}")
    metrics = emf_totals(stack.emf_documents())
    for tenant in stack.tenants.values():
        m = metrics.get(tenant.cost_center, Counter())
        succeeded = m["RateLimitApproved"] - m["InvocationFailed"]
        print(
            f"{tenant.cost_center:<10} {m['TotalRequests']:>8} {m['RateLimitApproved']:>8} "
            f"{m['InvocationFailed']:>8} {succeeded:>9} {m['RateLimitDenied']:>6} {usd(m['CostNanos']):>10}"
        )
        tally = tallies[tenant.tenant_id]
        seen = {"succeeded": tally.approved, "denied": tally.denied, "failed": tally.failed}
        charted = {"succeeded": succeeded, "denied": m["RateLimitDenied"], "failed": m["InvocationFailed"]}
        for what in seen:
            if seen[what] != charted[what]:
                print(
                    f"  ! {tenant.cost_center}: the metrics count {charted[what]} {what}, the callers {seen[what]}"
                )
                consistent = False
        if m["CostNanos"] != counters[tenant.tenant_id].get("spent_nanos", 0):
            print(f"  ! {tenant.cost_center}: the metrics' CostUSD differs from the ledger's spend")
            consistent = False
    print("\nResponse codes seen by the callers:")
    for tenant_id, tally in tallies.items():
        print(f"  {tenant_id:<9} " + ", ".join(f"{code} x{n}" for code, n in tally.codes.most_common()))
    return consistent


# --------------------------------------------------------------------------------------------------
# A shared SageMaker endpoint: its cost split across the tenants by their tokens
# --------------------------------------------------------------------------------------------------

SHARED_MODEL = "shared-llm"
SHARED_ENDPOINT_NAME = "cost-sentry-shared-shared-llm"
SHARED_RATES = {"inputPerMillionUsd": "0.20", "outputPerMillionUsd": "0.80"}
SHARED_CALLS = {"sales": 3, "services": 2, "support": 1}  # calls per tenant, prompts of 400-1200 bytes
SHARED_HOURS, SHARED_HOURLY_USD, SHARED_CAPACITY = 24, Decimal("1.41"), 100_000  # ml.g5.xlarge-like


def shared_endpoint_step(stack: LocalStack, say: Callable[[str], None]) -> Counter[str]:
    """Tenants call the shared endpoint through the gateway; its (synthetic) CUR 2.0 hosting hours are
    split across them by token share (scripts.cli.reports.sagemaker). Returns the approved calls."""
    import tempfile

    from scripts.cli.reports.engines import DuckDBEngine
    from scripts.cli.reports.ledger import read_call_records
    from scripts.cli.reports.money import console_usd, plain
    from scripts.cli.reports.sagemaker import allocate_endpoints, endpoint_costs, synthesize_endpoint_hours

    approved: Counter[str] = Counter()
    for tenant_id, calls in SHARED_CALLS.items():
        tenant = stack.tenants.get(tenant_id)
        for number in range(calls if tenant else 0):
            body = tenant.request_body("Summarize the quarter. " * (16 * (number + 1)), model=SHARED_MODEL)
            status, document = post(f"{stack.gateway_url}/v1/converse", tenant.api_key, body)
            approved[tenant_id] += status == 200
            if status != 200:
                say(f"shared endpoint: {tenant_id} got {status} {document.get('error', {}).get('code')}")
    records = list(read_call_records(stack.ledger_table, stack.client("dynamodb")))
    arn = next(str(r["modelId"]) for r in records if r.get("model") == SHARED_MODEL)
    start = min(datetime.fromisoformat(str(r["sk"]).split("#")[1].replace("Z", "+00:00")) for r in records)
    with tempfile.TemporaryDirectory() as cur:
        synthesize_endpoint_hours(
            Path(cur), arn, start.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None),
            hours=SHARED_HOURS, hourly_usd=SHARED_HOURLY_USD, account_id=arn.split(":")[4],
        )  # fmt: skip
        [allocation] = allocate_endpoints(
            endpoint_costs(DuckDBEngine(Path(cur))), records, {SHARED_MODEL: SHARED_CAPACITY}
        )
    print(f"\nShared SageMaker endpoint {SHARED_ENDPOINT_NAME}, {SHARED_HOURS} h at ${SHARED_HOURLY_USD}/h:")
    print(f"  {allocation.summary()}")
    for share in allocation.shares:
        tokens = share.input_tokens + share.output_tokens
        print(
            f"  {share.tenant:<9} {plural(share.requests, 'call'):>8} {plural(tokens, 'token'):>13} "
            f"{plain(share.share_percent):>6}%  allocated {console_usd(share.allocated_usd)}  "
            f"(charged by the gateway {console_usd(share.charged_usd)})"
        )
    return approved


# --------------------------------------------------------------------------------------------------
# Pacing and shadow mode
# --------------------------------------------------------------------------------------------------

PACED_BURST_PERCENT = Decimal(1)
# The paced tenant's limit is chosen so that, at the moment the demo runs, its pace allows this much.
PACED_ALLOWANCE_USD = Decimal("0.002")
SHADOW_LIMIT_USD = Decimal("0.0003")
PACING_REQUESTS = 6
WOULD_DENY_HEADER = "x-cost-sentry-would-deny"


def paced_tfvars(now: float) -> tuple[str, str]:
    """Two tenants for the step: ``steady`` (paced, of the two periods the one less elapsed, its limit
    chosen so that its allowance now is PACED_ALLOWANCE_USD) and ``pilot`` (shadow mode)."""
    from cost_sentry.core.pacing import Pace, pace_at

    def share(period: str) -> Decimal:
        paced = pace_at(Pace(), 10**12, period, now)
        return Decimal(paced.now_ms - paced.start_ms) / Decimal(paced.duration_ms)

    period = min(("MONTHLY", "DAILY"), key=share)
    limit = (PACED_ALLOWANCE_USD / (share(period) + PACED_BURST_PERCENT / 100)).quantize(Decimal("0.000001"))
    tfvars = f"""
environment = "prod"
tenants = {{
  steady = {{
    application_id = "steady-app"
    cost_center    = "steady"
    models         = ["claude-3-haiku"]
    budget         = {{ limit_usd = {limit}, period = "{period}", pace = {{ burst_percent = {PACED_BURST_PERCENT} }} }}
  }}
  pilot = {{
    application_id = "pilot-app"
    cost_center    = "pilot"
    models         = ["claude-3-haiku"]
    budget         = {{ limit_usd = {SHADOW_LIMIT_USD} }}
    limits         = {{ requests_per_minute = 4 }}
    enforce        = false
  }}
}}
"""
    return tfvars, period


def _request(
    stack: LocalStack, method: str, path: str, api_key: str, body: Any = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 - the local stack's http://127.0.0.1 URL
        stack.gateway_url + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"x-api-key": api_key, "content-type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - local URL
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def pacing_and_shadow_step(say: Callable[[str], None]) -> bool:
    """Returns whether the ledger, the callers and the metrics agree (as the main summary does)."""
    started = time.monotonic()
    tfvars, period = paced_tfvars(time.time())
    account = account_outputs(tfvars_text=tfvars)
    consistent = True
    print(
        "\nPacing and shadow mode (a second local stack from tfvars: steady is paced, pilot has enforce = false):"
    )
    with LocalStack(outputs=account) as stack:
        steady, pilot = stack.tenants["steady"], stack.tenants["pilot"]
        # Large answers allowed (max_tokens 1400): early in the period the pace takes only a few at once.
        body = steady.request_body("Summarise the ticket queue. " * 16, max_tokens=1400)
        codes: Counter[str] = Counter()
        pace_denial: dict[str, Any] = {}
        for _ in range(PACING_REQUESTS):
            status, _, document = _request(stack, "POST", "/v1/converse", steady.api_key, body)
            code = "200 ok" if status == 200 else f"{status} {document.get('error', {}).get('code')}"
            codes[code] += 1
            if status != 200 and not pace_denial:
                pace_denial = document.get("error", {})
        _, _, report = _request(stack, "GET", "/v1/budget", steady.api_key)
        pace = report.get("pace", {})
        print(
            f"  steady  {period.lower()} budget ${report['limitUsd']}, paced with a {PACED_BURST_PERCENT} % burst: "
            f"by now the pace allows ${pace.get('allowanceUsd')} (the whole limit only at {pace.get('fullAt')})"
        )
        print(
            f"          {PACING_REQUESTS} requests: " + ", ".join(f"{c} x{n}" for c, n in codes.most_common())
        )
        print(f"          spent ${report['spentUsd']}, left of the limit ${report['remainingUsd']}")
        if pace_denial:
            print(
                f"          the pace's answer: {pace_denial.get('message')}; fits at {pace_denial.get('resetsAt')}"
            )
        if not codes.get("429 pace_exceeded"):
            print("  ! steady: the pace never refused a request")
            consistent = False

        pilot_body = pilot.request_body("Draft a rollout plan. " * 16, max_tokens=100)
        would_deny: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        for _ in range(6):
            status, headers, _ = _request(stack, "POST", "/v1/converse", pilot.api_key, pilot_body)
            statuses[status] += 1
            reason = {k.lower(): v for k, v in headers.items()}.get(WOULD_DENY_HEADER)
            if reason:
                would_deny[reason] += 1
        _, _, pilot_report = _request(stack, "GET", "/v1/budget", pilot.api_key)
        metrics: Counter[str] = Counter()
        for document in stack.emf_documents():
            if document.get("CostCenter") == "pilot" and document.get("WouldDeny"):
                metrics[str(document["Reason"])] += 1
        print(
            f"  pilot   shadow mode, budget ${pilot_report['limitUsd']}, 4 requests a minute: "
            + ", ".join(f"HTTP {s} x{n}" for s, n in sorted(statuses.items()))
        )
        print(
            "          would have been denied (x-cost-sentry-would-deny): "
            + (", ".join(f"{r} x{n}" for r, n in would_deny.most_common()) or "none")
            + "; WouldDeny metric by Reason: "
            + (", ".join(f"{r} x{n}" for r, n in metrics.most_common()) or "none")
        )
        print(
            f"          spent ${pilot_report['spentUsd']} of ${pilot_report['limitUsd']}: "
            f"remaining ${pilot_report['remainingUsd']} (the overdraft, recorded exactly)"
        )
        if set(statuses) != {200} or not would_deny or would_deny != metrics:
            print("  ! pilot: shadow mode refused a request, or the header and the metric disagree")
            consistent = False
    say(f"pacing and shadow mode step in {time.monotonic() - started:.1f}s")
    return consistent


# --------------------------------------------------------------------------------------------------
# The chargeback step
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLedger:
    """Where the demo's traffic data lives while the stack runs (the moto server stops with the stack)."""

    moto_url: str
    region: str
    ledger_table: str
    config_table: str
    dynamodb_client: Any
    outputs: Mapping[str, Any]  # the workload root's output values: the tenants Terraform evaluated


def chargeback_step(ledger: DemoLedger, report_dir: Path) -> Path:
    """The chargeback report (scripts.cli.reports) over the demo's call records, built while the ledger is up.

    A one-line-per-cost-center charge from the call records comes first, so the terminal shows what the
    report will say; the report itself (HTML + CSVs) is written to ``report_dir``.
    """
    from scripts.cli.reports import build_demo_report
    from scripts.cli.reports.ledger import read_call_records

    charges: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for record in read_call_records(ledger.ledger_table, ledger.dynamodb_client):
        charges[str(record["costCenter"])] += int(record["cost_nanos"])
        calls[str(record["costCenter"])] += 1
    print(f"\nChargeback from {sum(calls.values())} call records in {ledger.ledger_table}:")
    for center, nanos in sorted(charges.items()):
        print(f"  {center:<10} {plural(calls[center], 'call'):>11}  {usd(nanos)}")
    report = build_demo_report(
        ledger.ledger_table,
        ledger.dynamodb_client,
        ledger.outputs,
        report_dir,
        shared_endpoints={SHARED_MODEL: (SHARED_HOURS, SHARED_HOURLY_USD, SHARED_CAPACITY)},
    )
    print(f"chargeback report: {report}")
    return report


def run(
    tfvars_path: Path = WORKLOAD_TFVARS,
    report_dir: Path = DEFAULT_REPORT_DIR,
    time_box: float = TIME_BOX_SECONDS,
) -> int:
    started = time.monotonic()
    print_lock = threading.Lock()

    def say(line: str) -> None:
        with print_lock:
            print(line, flush=True)

    # Terraform evaluates the tenants (an offline plan of the workload root with this var file).
    account = account_outputs(tfvars_text=tfvars_path.read_text(encoding="utf-8"))
    sagemaker = SageMakerRuntimeStub([SHARED_ENDPOINT_NAME])
    shared = {
        SHARED_MODEL: {
            "endpointName": SHARED_ENDPOINT_NAME,
            "tenants": list(account["tenants"]),
            **SHARED_RATES,
        }
    }
    with (
        sagemaker,
        LocalStack(
            outputs=account, gateway_environment=shared_endpoint_environment(sagemaker, shared)
        ) as stack,
    ):
        say(f"local stack up in {time.monotonic() - started:.1f}s: gateway {stack.gateway_url}")
        if stack.bedrock is not None:
            for tenant_id, model, mode, count in INJECTED_FAULTS:
                if tenant_id in stack.tenants and model in stack.tenants[tenant_id].profile_arns:
                    arn = stack.tenants[tenant_id].profile_arns[model]
                    stack.bedrock.inject_fault(mode, count=count, model_id=arn)
                    say(f"injected: the next {count} Bedrock calls for {tenant_id}/{model} fail with {mode}")
        # Terraform wrote the amounts as decimal strings: exact.
        limits = {
            tenant_id: Decimal(tenant["config"]["budget"]["limitUsd"])
            for tenant_id, tenant in account["tenants"].items()
        }
        shared_approved = shared_endpoint_step(stack, say)
        tallies = send_traffic(stack, say, time_box)
        for tenant_id, count in shared_approved.items():
            tallies[tenant_id].approved += count
            tallies[tenant_id].codes[f"200 ok ({SHARED_MODEL})"] += count
        consistent = print_summary(stack, tallies, limits)

        # ---- CALL SITE: the chargeback report (scripts.cli.reports) over the ledger's call records ----
        chargeback_step(
            DemoLedger(
                moto_url=stack.moto_url,
                region="us-east-1",
                ledger_table=stack.ledger_table,
                config_table=stack.config_table,
                dynamodb_client=stack.client("dynamodb"),
                outputs=account,
            ),
            report_dir,
        )
    consistent = pacing_and_shadow_step(say) and consistent
    print(
        f"\ndemo finished in {time.monotonic() - started:.1f}s; "
        + (
            "the ledger, the metrics and the callers agree (spend to the nano-dollar; succeeded, denied "
            "and failed requests per tenant)"
            if consistent
            else "INCONSISTENT: see the lines marked ! above"
        )
    )
    return 0 if consistent else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--account", default="workload", help="an account under terraform/accounts/")
    parser.add_argument("--report-dir", type=Path, default=DEFAULT_REPORT_DIR)
    args = parser.parse_args(argv)
    try:
        tfvars = account_root(args.account) / "terraform.tfvars"
        return run(tfvars, args.report_dir)
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
