"""The SageMaker pipeline definition tags every job with the activated cost allocation tag keys, valued
from pipeline parameters, so one pipeline attributes each tenant's training compute."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import hcl2

from scripts.cli.sagemaker_pipeline import TAG_PARAMETERS, pipeline_definition, untagged_job_steps

REPO = Path(__file__).resolve().parents[2]
ARGS = {
    "role_arn": "arn:aws:iam::111111111111:role/ml",
    "image_uri": "111111111111.dkr.ecr.us-east-1.amazonaws.com/train:1",
    "output_s3": "s3://ml-artifacts/cost-sentry/",
}


def test_the_tag_keys_are_the_ones_the_billing_account_activates() -> None:
    main = hcl2.loads((REPO / "modules/cost-allocation-tags/main.tf").read_text())
    [locals_block] = main["locals"]
    activated = [json.loads(key) for key in locals_block["cost_sentry_tag_keys"]]
    assert sorted(TAG_PARAMETERS) == sorted(activated)


def test_every_job_step_is_tagged_from_the_parameters() -> None:
    definition = pipeline_definition(**ARGS)

    steps = {step["Name"]: step for step in definition["Steps"]}
    assert [steps[name]["Type"] for name in ("Preprocess", "Train", "Tune")] == [
        "Processing",
        "Training",
        "Tuning",
    ]
    assert untagged_job_steps(definition) == []
    assert steps["Train"]["Arguments"]["Tags"] == [
        {"Key": "applicationId", "Value": {"Get": "Parameters.ApplicationId"}},
        {"Key": "costCenter", "Value": {"Get": "Parameters.CostCenter"}},
        {"Key": "environment", "Value": {"Get": "Parameters.Environment"}},
    ]
    declared = {p["Name"] for p in definition["Parameters"]}
    assert set(TAG_PARAMETERS.values()) <= declared
    assert (
        steps["Train"]["Arguments"]["OutputDataConfig"]["S3OutputPath"]
        == "s3://ml-artifacts/cost-sentry/models"
    )


def test_a_step_without_the_tags_is_found() -> None:
    definition = pipeline_definition(**ARGS)
    del definition["Steps"][2]["Arguments"]["Tags"]
    assert untagged_job_steps(definition) == ["Tune"]


def test_the_command_writes_the_definition(tmp_path: Path) -> None:
    out = tmp_path / "pipeline.json"
    done = subprocess.run(
        [sys.executable, "-m", "scripts.cli.sagemaker_pipeline", "--role-arn", ARGS["role_arn"],
         "--image-uri", ARGS["image_uri"], "--output-s3", ARGS["output_s3"], "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert untagged_job_steps(json.loads(out.read_text())) == []
    bad = subprocess.run(
        [sys.executable, "-m", "scripts.cli.sagemaker_pipeline", "--role-arn", "ml", "--image-uri", "x", "--output-s3", "s3://b"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "role_arn must be an IAM role ARN" in bad.stderr
