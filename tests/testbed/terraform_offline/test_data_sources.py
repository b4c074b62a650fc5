"""The data sources the stand-in reads at plan time, above all the rendered IAM policy documents."""

from __future__ import annotations

import json

import pytest

from scripts.testbed.terraform_offline.data_sources import (
    DataSourceError,
    ProviderSettings,
    read_caller_identity,
    read_iam_policy_document,
    read_region,
)

SETTINGS = ProviderSettings(region="eu-west-1")


def statement(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sid": None,
        "effect": None,
        "actions": None,
        "not_actions": None,
        "resources": None,
        "not_resources": None,
        "principals": [],
        "not_principals": [],
        "condition": [],
    }
    return {**base, **fields}


def test_policy_document_renders_like_the_aws_provider() -> None:
    config = {
        "statement": [
            statement(
                sid="AllowBudgets",
                actions=["sns:Publish", "sns:GetTopicAttributes"],
                resources=["arn:aws:sns:us-east-1:111111111111:alerts"],
                principals=[{"type": "Service", "identifiers": ["budgets.amazonaws.com"]}],
                condition=[
                    {"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["111111111111"]}
                ],
            )
        ]
    }

    read = read_iam_policy_document(config, SETTINGS)

    assert json.loads(read["json"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowBudgets",
                "Effect": "Allow",
                # more than one value: a list, reverse-sorted as the provider does
                "Action": ["sns:Publish", "sns:GetTopicAttributes"],
                # exactly one value: a bare string
                "Resource": "arn:aws:sns:us-east-1:111111111111:alerts",
                "Principal": {"Service": "budgets.amazonaws.com"},
                "Condition": {"StringEquals": {"aws:SourceAccount": "111111111111"}},
            }
        ],
    }
    assert read["json"].startswith('{\n  "Version": "2012-10-17",\n  "Statement": [')
    assert json.loads(read["minified_json"]) == json.loads(read["json"])
    assert "\n" not in read["minified_json"]
    assert read["id"] == read_iam_policy_document(config, SETTINGS)["id"]


def test_wildcard_principal_and_deny_effect() -> None:
    config = {
        "statement": [
            statement(
                effect="Deny",
                actions=["s3:*"],
                resources=["arn:aws:s3:::reports", "arn:aws:s3:::reports/*"],
                principals=[{"type": "*", "identifiers": ["*"]}],
                condition=[{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
            )
        ]
    }

    rendered = json.loads(read_iam_policy_document(config, SETTINGS)["json"])["Statement"][0]

    assert rendered["Effect"] == "Deny"
    assert rendered["Principal"] == "*"
    assert rendered["Resource"] == ["arn:aws:s3:::reports/*", "arn:aws:s3:::reports"]
    assert "Sid" not in rendered


def test_override_documents_replace_statements_with_the_same_sid() -> None:
    source = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "s3:*"}]}
    )
    override = json.dumps({"Statement": [{"Sid": "A", "Effect": "Deny", "Action": "s3:*"}]})
    config = {
        "source_policy_documents": [source],
        "statement": [statement(sid="B", actions=["sns:Publish"], resources=["*"])],
        "override_policy_documents": [override],
    }

    statements = json.loads(read_iam_policy_document(config, SETTINGS)["json"])["Statement"]

    assert [(s["Sid"], s["Effect"]) for s in statements] == [("A", "Deny"), ("B", "Allow")]


def test_go_style_html_escaping_matches_the_provider() -> None:
    config = {"statement": [statement(actions=["s3:GetObject"], resources=["arn:aws:s3:::a<b>&c"])]}

    assert "\\u003c" in read_iam_policy_document(config, SETTINGS)["json"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"source_policy_documents": ["{not json"]}, "not valid JSON"),
        (
            {"statement": [statement(sid="X", actions=["a:b"]), statement(sid="X", actions=["c:d"])]},
            "duplicate statement Sid",
        ),
    ],
)
def test_bad_policy_documents_are_errors(config: dict[str, object], message: str) -> None:
    with pytest.raises(DataSourceError, match=message):
        read_iam_policy_document(config, SETTINGS)


def test_region_comes_from_the_provider_unless_the_config_names_one() -> None:
    assert read_region({}, SETTINGS)["region"] == "eu-west-1"
    assert read_region({"region": "us-west-2"}, SETTINGS)["name"] == "us-west-2"


def test_caller_identity_is_the_offline_account() -> None:
    assert read_caller_identity({}, SETTINGS)["account_id"] == "111111111111"
