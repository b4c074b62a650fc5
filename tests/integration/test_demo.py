"""`make demo` end to end on small budgets: every cost center is denied in the end, the ledger, the EMF
metrics and the callers agree, and the chargeback report is written."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from scripts.testbed import demo

pytestmark = pytest.mark.xdist_group("demo")

SMALL_BUDGETS = """
environment = "prod"
tenants = {
  sales = {
    application_id = "sales-assistant"
    cost_center    = "sales"
    models         = ["claude-3-haiku", "nova-micro"]
    budget         = { limit_usd = 0.02 }
  }
  services = {
    application_id = "services-copilot"
    cost_center    = "services"
    models         = ["claude-3-haiku", "claude-3-5-haiku", "nova-lite"]
    budget         = { limit_usd = 0.05 }
  }
  support = {
    application_id = "support-bot"
    cost_center    = "support"
    models         = ["nova-micro", "nova-lite"]
    budget         = { limit_usd = 0.25, period = "DAILY" }
    limits         = { tokens_per_period = 60000 }
  }
}
"""


def test_classify_tells_tenant_limits_from_bedrock_failures() -> None:
    assert demo.classify(200, {}) == "approved"
    assert demo.classify(429, {"error": {"code": "budget_exhausted"}}) == "denied"
    assert demo.classify(429, {"error": {"code": "token_limit"}}) == "denied"
    assert demo.classify(429, {"error": {"code": "bedrock_throttled"}}) == "failed"
    assert demo.classify(502, {"error": {"code": "bedrock_failed"}}) == "failed"
    assert demo.classify(400, {"error": {"code": "invalid_json"}}) == "rejected"


def test_emf_totals_sum_per_cost_center_exactly() -> None:
    documents = [
        {"CostCenter": "sales", "TotalRequests": 1, "RateLimitApproved": 1, "CostUSD": "0.000000001"},
        {"CostCenter": "sales", "TotalRequests": 1, "RateLimitDenied": 1, "CostUSD": 0},
        {"CostCenter": "support", "TotalRequests": 1, "InvocationFailed": 1, "CostUSD": "0.1"},
    ]

    totals = demo.emf_totals(documents)

    assert totals["sales"] == Counter(TotalRequests=2, RateLimitApproved=1, RateLimitDenied=1, CostNanos=1)
    assert totals["support"]["CostNanos"] == 100_000_000


@pytest.mark.slow
def test_the_demo_runs_budgets_out_and_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", raising=False)
    tfvars = tmp_path / "terraform.tfvars"
    tfvars.write_text(SMALL_BUDGETS)

    exit_code = demo.run(tfvars, report_dir=tmp_path / "report", time_box=60)

    out = capsys.readouterr().out
    assert exit_code == 0, out
    assert "the ledger, the metrics and the callers agree (spend to the nano-dollar; succeeded, denied" in out
    assert " ! " not in out
    codes_section = out.split("Response codes seen by the callers:")[1].split("Chargeback")[0]
    codes = {line.split()[0]: line for line in codes_section.strip().splitlines()}
    assert "429 budget_exhausted" in codes["sales"]
    assert "429 budget_exhausted" in codes["services"]
    assert "429 token_limit" in codes["support"]
    # An injected Bedrock 500: it may have run, so it is charged at the worst case, marked estimated.
    assert "502 bedrock_failed" in codes["services"]
    assert re.search(r"services: \d+ failed calls? charged at the worst case \(estimated\)", out)
    # The EMF "admitted" requests include the failed ones; what succeeded is what the callers saw.
    emf = out.split("dimension CostCenter):")[1].split("Response codes")[0]
    services = next(line.split() for line in emf.splitlines() if line.startswith("services"))
    requests, admitted, failed, succeeded, denied = (int(n) for n in services[1:6])
    assert failed >= 1 and succeeded == admitted - failed and requests >= admitted + denied
    # The report shows the estimated charges beside what CUR billed for them.
    html = (tmp_path / "report" / "chargeback.html").read_text(encoding="utf-8")
    assert 'id="estimated-charges"' in html
    # Pacing and shadow mode, from tfvars on a second stack: the pace refuses before the limit; the pilot
    # in shadow mode is refused nothing, and its header and WouldDeny metric name the same reasons.
    step = out.split("Pacing and shadow mode (")[1]
    assert re.search(r"requests: .*429 pace_exceeded x[1-9]", step) and "200 ok x" in step
    assert re.search(r"pilot .*: HTTP 200 x6\n", step)
    header, metric = re.search(
        r"would have been denied \(x-cost-sentry-would-deny\): (.*); WouldDeny metric by Reason: (.*)", step
    ).groups()
    assert "budget_exhausted" in header and header == metric
    # Console figures are rounded and counted in words.
    assert not re.search(r"\b1 calls\b|\d\.\d{5,} USD", out)
