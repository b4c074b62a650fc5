"""`make preview ACCOUNT=x`: the stand-in plan of an account root in a few lines; a broken tenant map is
one line per broken rule, naming the tenant and the value (modules/tenants' messages)."""

from __future__ import annotations

import io
from pathlib import Path

from scripts.testbed.terraform_offline.outputs import WORKLOAD_ROOT
from scripts.testbed.terraform_offline.preview import preview

BROKEN = """
account_id  = "111111111111"
region      = "us-east-1"
environment = "prod"
tenants = {
  legal = {
    application_id = "legal-review"
    cost_center    = "legal"
    models         = ["claude-sonnet-4", "gpt-17"]
    budget         = { limit_usd = 0, period = "WEEKLY" }
  }
  hr = {
    application_id = "legal-review"
    cost_center    = "hr"
    models         = ["nova-micro"]
    budget         = { limit_usd = 1, actual_thresholds = [50, 2000] }
  }
}
"""


def test_the_workload_preview_lists_each_tenant_and_what_it_would_create() -> None:
    out = io.StringIO()

    assert preview(WORKLOAD_ROOT, out=out) == 0

    text = out.getvalue()
    assert "to create" in text
    for tenant in ("sales", "services", "support"):
        assert f"  tenant {tenant}: models " in text
    assert "tenant support: models nova-micro, nova-lite; budget USD 0.25 DAILY" in text
    assert len(text.splitlines()) <= 8


def test_each_broken_rule_is_one_line_naming_the_tenant_and_the_value(tmp_path: Path) -> None:
    var_file = tmp_path / "broken.tfvars"
    var_file.write_text(BROKEN, encoding="utf-8")
    out = io.StringIO()

    assert preview(WORKLOAD_ROOT, var_file, out=out) == 1

    rules = [line for line in out.getvalue().splitlines() if line.startswith("- ")]
    assert len(rules) == 5, out.getvalue()
    expected = [
        "legal has budget.limit_usd = 0.",
        'legal has budget.period = "WEEKLY".',
        "hr has 2000.",
        'legal has "gpt-17".',
        'hr and legal share "legal-review".',
    ]
    for fragment, line in zip(expected, rules, strict=True):
        assert fragment in line, line
        assert line.endswith(")") and "(modules/tenants/variables.tf:" in line, line
