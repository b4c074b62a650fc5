"""`python -m scripts.cli.keys`: issue, list, rotate, revoke per-user keys in a config table (moto)."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from cost_sentry.adapters.tables import create_tables
from cost_sentry.core.identity import key_hash
from scripts.cli import keys


@pytest.fixture
def table(aws_endpoint_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    client = boto3.client("dynamodb", region_name="us-east-1")
    suffix = uuid.uuid4().hex[:10]
    create_tables(client, f"ledger-{suffix}", f"config-{suffix}")
    client.put_item(TableName=f"config-{suffix}", Item={"pk": {"S": "tenant#sales"}, "config": {"S": "{}"}})
    monkeypatch.setenv("CONFIG_TABLE", f"config-{suffix}")
    return f"config-{suffix}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = keys.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_issue_list_rotate_revoke(table: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "issue",
        "--tenant",
        "sales",
        "--user",
        "alice",
        "--name",
        "laptop",
        "--limit-usd",
        "5",
        "--expires",
        "2099-01-01",
    )
    assert code == 0
    secret = out.strip().rsplit(" ", 1)[1]
    assert secret.startswith("csk_")
    # Only the hash and a prefix are stored.
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=table)["Items"]
    stored = json.dumps(items)
    assert secret not in stored and key_hash(secret) in stored and secret[:12] in stored

    code, out, _ = run(capsys, "list", "--tenant", "sales", "--json")
    [row] = json.loads(out)
    assert (row["prefix"], row["user"], row["limitUsd"], row["expires"], row["revoked"]) == (
        secret[:12],
        "alice",
        "5.00",
        "2099-01-01T00:00:00Z",
        "-",
    )

    code, out, _ = run(capsys, "rotate", "--tenant", "sales", "--key", secret[:12])
    assert code == 0 and f"revoked {secret[:12]}" in out
    rows = json.loads(run(capsys, "list", "--json")[1])
    assert len(rows) == 2 and sorted(r["revoked"] == "-" for r in rows) == [False, True]
    new = next(r for r in rows if r["revoked"] == "-")
    assert (new["user"], new["name"], new["limitUsd"]) == ("alice", "laptop", "5.00")

    code, out, _ = run(capsys, "revoke", "--tenant", "sales", "--key", new["prefix"])
    assert code == 0
    assert all(r["revoked"] != "-" for r in json.loads(run(capsys, "list", "--json")[1]))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["issue", "--tenant", "nobody", "--user", "alice"], "no tenant 'nobody'"),
        (["issue", "--tenant", "sales", "--user", "a,b"], "user must be"),
        (["issue", "--tenant", "sales", "--user", "alice", "--expires", "2001-01-01"], "in the past"),
        (["revoke", "--tenant", "sales", "--key", "csk_nothere"], "0 keys"),
    ],
)
def test_mistakes_are_refused_clearly(table: str, capsys: pytest.CaptureFixture[str], argv, message) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err


def test_a_key_for_terraform_prints_only_its_hash_for_tfvars(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "terraform", "--tenant", "sales", "--user", "ci-bot", "--name", "ci")
    assert code == 0
    secret = out.splitlines()[0].rsplit(" ", 1)[1]
    assert f'sha256 = "{key_hash(secret)}"' in out and 'user = "ci-bot"' in out
