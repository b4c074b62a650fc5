"""Run by .venv-cid's Python: what cid-cmd 4.4.18 itself makes of our command lines and resources.

    python cid_harness.py parse <cid-cmd arguments...>   -> the parameters its `deploy` would run with
    python cid_harness.py resources <file>               -> our resources as cid-cmd loaded them, and one
                                                            view rendered with its template parameters
    python cid_harness.py columns                        -> the CUR 2.0 columns it needs

Nothing here reaches AWS: `deploy` itself is replaced by a recorder, and the check for a newer cid-cmd
release (an HTTP call at import) by a constant.
"""

import json
import sys

import cid.utils

cid.utils.get_latest_tool_version = lambda: "UNDEFINED"

from cid import cli  # noqa: E402
from cid.common import Cid  # noqa: E402


def parse(arguments):
    seen = {}

    def deploy(self, **kwargs):
        seen["flags"] = sorted(key for key, value in kwargs.items() if value is True)
        seen["parameters"] = {key: str(value) for key, value in cid.utils.get_parameters().items()}
        seen["all_yes"] = bool(self.all_yes)

    Cid.deploy = deploy
    cli.main.main(args=arguments, prog_name="cid-cmd", standalone_mode=False)
    return seen


def resources(path):
    from string import Template

    tool = Cid()
    tool.load_resource_file(path, path)
    dashboard = tool.get_definition("dashboard", id="cost-sentry-bedrock")
    view = tool.resources["views"]["cost_sentry_bedrock_spend"]
    dataset = tool.resources["datasets"]["cost_sentry_bedrock_spend"]
    compiled = Template(view["data"]).safe_substitute(
        {"cur2_database": "cur", "cur2_table_name": "cost_and_usage"}
    )
    return {
        "dashboard": {key: dashboard[key] for key in ("dashboardId", "name", "dependsOn")},
        "definition": dashboard["data"],
        "dataset": dataset["data"],
        "dataset_views": dataset["dependsOn"]["views"],
        "view_cur2": view["dependsOn"]["cur2"],
        "view_sql": compiled,
    }


def columns():
    import importlib.resources

    import yaml
    from cid.helpers.cur import AbstractCUR
    from cid.helpers.cur_proxy import default_columns

    builtin = yaml.safe_load(
        (importlib.resources.files("cid.builtin.core") / "data" / "resources.yaml").read_text()
    )
    needed = set(AbstractCUR.cur_minimal_required_columns) | {"bill_payer_account_name"}  # the CUR 2.0 marker
    needed |= {column.split("[")[0] for column in default_columns["2"] if column != "billing_period"}
    # the views of the dashboards make dashboards deploys (CUDOS v5, KPI), with the views they build on
    views, pending = (
        set(),
        [
            view
            for dashboard in ("cudos-v5", "kpi_dashboard")
            for entry in builtin["dashboards"].values()
            if entry["dashboardId"] == dashboard
            for dataset in entry["dependsOn"]["datasets"]
            for view in builtin["datasets"][dataset].get("dependsOn", {}).get("views", [])
        ],
    )
    while pending:
        view = pending.pop()
        if view in views:
            continue
        views.add(view)
        depends = builtin["views"].get(view, {}).get("dependsOn") or {}
        pending += depends.get("views") or []
        if isinstance(depends.get("cur2"), list):
            needed |= {column.split("[")[0] for column in depends["cur2"]}
    return sorted(needed)


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    result = {"parse": lambda: parse(rest), "resources": lambda: resources(rest[0]), "columns": columns}[
        command
    ]()
    print(json.dumps(result))
