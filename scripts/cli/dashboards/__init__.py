"""The CUR dashboards: AWS's Cloud Intelligence Dashboards (CUDOS v5, KPI) and the Cost Sentry dashboard,
deployed with AWS's own tool for them, cid-cmd (pinned in requirements-cid.txt, its own venv .venv-cid),
over the CUR 2.0 table of the billing account's cur-export module (`make dashboards ACCOUNT=billing`).

`python -m scripts.cli.dashboards --help`; docs/reports.md ("Dashboards") says what needs an account.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts import REPO_ROOT

CID_CMD = REPO_ROOT / ".venv-cid" / "bin" / "cid-cmd"
# cid-cmd's ids of the Cloud Intelligence Dashboards the design names (its builtin resources.yaml)
CID_DASHBOARDS = ("cudos-v5", "kpi_dashboard")


class DashboardsError(ValueError):
    """The billing account's outputs or the options cannot make a deployment; the message says why."""


@dataclass(frozen=True)
class CurTable:
    """Where the CUR 2.0 export can be queried: the billing root's outputs (modules/cur-export)."""

    region: str
    database: str
    table: str
    workgroup: str
    bucket: str

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any]) -> CurTable:
        """From `terraform output -json` of terraform/accounts/billing (values wrapped in {"value": ...}),
        or the plain name -> value map of an offline plan."""

        def value(name: str) -> str:
            entry = outputs.get(name)
            if isinstance(entry, Mapping):
                entry = entry.get("value")
            if not isinstance(entry, str) or not entry:
                raise DashboardsError(
                    f"the billing account's outputs have no {name!r}: are these `terraform output -json` of "
                    "terraform/accounts/billing (make output ACCOUNT=billing)?"
                )
            return entry

        database, _, table = value("glue_table").partition(".")
        if not table:
            raise DashboardsError(f"glue_table must be database.table, got {value('glue_table')!r}")
        return cls(value("cur_region"), database, table, value("athena_workgroup"), value("cur_bucket"))


def cid_commands(
    cur: CurTable,
    quicksight_user: str,
    resources: Path,
    *,
    cid_cmd: Path = CID_CMD,
    account_map: str = "organization",
    dashboards: Sequence[str] = (*CID_DASHBOARDS, "cost-sentry-bedrock"),
) -> list[list[str]]:
    """One `cid-cmd deploy` per dashboard, every answer given on the command line so it never prompts.

    The views go into the CUR's own Glue database, Athena runs in the export's workgroup (results
    encrypted in the CUR bucket, which cid-cmd's QuickSight role is allowed to read), and the dashboards
    are shared with the account's QuickSight users. The Cost Sentry dashboard comes from `resources`
    (cost_sentry.resources, written by `render`).
    """
    if not quicksight_user:
        raise DashboardsError("a QuickSight user must own the dashboards (QUICKSIGHT_USER=<user name>)")
    common = [
        "--athena-database", cur.database,
        "--athena-workgroup", cur.workgroup,
        "--cur-database", cur.database,
        "--cur-table-name", cur.table,
        "--quicksight-user", quicksight_user,
        "--allow-buckets", cur.bucket,
        "--account-map-source", account_map,
        "--share-with-account",
        "--update", "yes",
        "--on-drift", "show",
    ]  # fmt: skip
    commands = []
    for dashboard in dashboards:
        command = [str(cid_cmd), "--yes", "--region_name", cur.region, "deploy", "--dashboard-id", dashboard]
        if dashboard not in CID_DASHBOARDS:
            command += ["--resources", str(resources)]
        commands.append(command + common)
    return commands


def shell_line(command: Sequence[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)
