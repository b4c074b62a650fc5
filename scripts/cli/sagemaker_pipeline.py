"""SageMaker training attribution: a pipeline definition whose processing, training and tuning jobs carry
the tenant's cost allocation tags, taken from pipeline parameters.

SageMaker bills a job's compute to the job's tags. A pipeline that takes the line of business (and the
application and environment) as parameters and passes them as the Tags of every job it starts makes
each execution's compute land on the tenant in Cost Explorer and CUR 2.0, with one pipeline for every
tenant: ``StartPipelineExecution(PipelineParameters=[{"Name": "CostCenter", "Value": "sales"}, ...])``.
The tag keys are the ones the billing account activates (modules/cost-allocation-tags).

    python -m scripts.cli.sagemaker_pipeline --role-arn arn:aws:iam::111111111111:role/ml \\
        --image-uri 763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3-cpu-py311 \\
        --output-s3 s3://ml-artifacts/cost-sentry --out build/pipeline.json

Then ``aws sagemaker create-pipeline --pipeline-definition file://build/pipeline.json ...`` (or
Terraform's ``aws_sagemaker_pipeline`` with ``pipeline_definition = file(...)``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The cost allocation tags the billing account activates (modules/cost-allocation-tags/main.tf,
# local.cost_sentry_tag_keys), and the pipeline parameter each one's value comes from.
TAG_PARAMETERS = {"applicationId": "ApplicationId", "costCenter": "CostCenter", "environment": "Environment"}
JOB_STEP_TYPES = ("Processing", "Training", "Tuning")


def _parameter(name: str) -> dict[str, str]:
    return {"Get": f"Parameters.{name}"}


def job_tags() -> list[dict[str, Any]]:
    """The Tags of every job: each activated key, valued from its pipeline parameter at execution."""
    return [{"Key": key, "Value": _parameter(parameter)} for key, parameter in TAG_PARAMETERS.items()]


def pipeline_definition(
    *,
    role_arn: str,
    image_uri: str,
    output_s3: str,
    instance_type: str = "ml.m5.xlarge",
    max_runtime_seconds: int = 86_400,
    tuning_jobs: int = 4,
) -> dict[str, Any]:
    """Preprocess -> Train -> Tune, every job tagged from the parameters (SageMaker's 2020-12-01 schema)."""
    if not role_arn.startswith("arn:") or not output_s3.startswith("s3://") or tuning_jobs < 1:
        raise ValueError("role_arn must be an IAM role ARN, output_s3 an s3:// URI and tuning_jobs >= 1")
    output = output_s3.rstrip("/")
    resources = {"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": 30}
    training = {
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File"},
        "RoleArn": role_arn,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": {
                            "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
                        },
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"{output}/models"},
        "ResourceConfig": resources,
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_seconds},
    }
    return {
        "Version": "2020-12-01",
        "Metadata": {"generatedBy": "scripts/cli/sagemaker_pipeline.py (Cost Sentry)"},
        "Parameters": [
            {"Name": "ApplicationId", "Type": "String"},
            {"Name": "CostCenter", "Type": "String"},  # the line of business
            {"Name": "Environment", "Type": "String", "DefaultValue": "prod"},
            {"Name": "InputDataUri", "Type": "String"},
        ],
        "Steps": [
            {
                "Name": "Preprocess",
                "Type": "Processing",
                "Arguments": {
                    "ProcessingResources": {
                        "ClusterConfig": {
                            "InstanceCount": 1,
                            "InstanceType": instance_type,
                            "VolumeSizeInGB": 30,
                        }
                    },
                    "AppSpecification": {
                        "ImageUri": image_uri,
                        "ContainerEntrypoint": ["python3", "preprocess.py"],
                    },
                    "RoleArn": role_arn,
                    "ProcessingInputs": [
                        {
                            "InputName": "raw",
                            "S3Input": {
                                "S3Uri": _parameter("InputDataUri"),
                                "LocalPath": "/opt/ml/processing/input",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                            },
                        }
                    ],
                    "ProcessingOutputConfig": {
                        "Outputs": [
                            {
                                "OutputName": "train",
                                "S3Output": {
                                    "S3Uri": f"{output}/train",
                                    "LocalPath": "/opt/ml/processing/train",
                                    "S3UploadMode": "EndOfJob",
                                },
                            }
                        ]
                    },
                    "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_seconds},
                    "Tags": job_tags(),
                },
            },
            {
                "Name": "Train",
                "Type": "Training",
                "DependsOn": ["Preprocess"],
                "Arguments": {**training, "Tags": job_tags()},
            },
            {
                "Name": "Tune",
                "Type": "Tuning",
                "DependsOn": ["Preprocess"],
                "Arguments": {
                    "HyperParameterTuningJobConfig": {
                        "Strategy": "Bayesian",
                        "ResourceLimits": {
                            "MaxNumberOfTrainingJobs": tuning_jobs,
                            "MaxParallelTrainingJobs": 2,
                        },
                        "TrainingJobEarlyStoppingType": "Auto",
                        "HyperParameterTuningJobObjective": {
                            "Type": "Minimize",
                            "MetricName": "validation:loss",
                        },
                        "ParameterRanges": {
                            "ContinuousParameterRanges": [
                                {
                                    "Name": "learning_rate",
                                    "MinValue": "0.0001",
                                    "MaxValue": "0.1",
                                    "ScalingType": "Logarithmic",
                                }
                            ]
                        },
                    },
                    # The training jobs a tuning job starts are tagged with the tuning job's tags.
                    "TrainingJobDefinition": {**training, "StaticHyperParameters": {"epochs": "10"}},
                    "Tags": job_tags(),
                },
            },
        ],
    }


def untagged_job_steps(definition: dict[str, Any]) -> list[str]:
    """Job steps that do not carry every activated key from its parameter (should be none)."""
    wanted = job_tags()
    return [
        step["Name"]
        for step in definition.get("Steps", [])
        if step.get("Type") in JOB_STEP_TYPES and step.get("Arguments", {}).get("Tags") != wanted
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.cli.sagemaker_pipeline", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--role-arn", required=True, help="execution role of the jobs")
    parser.add_argument(
        "--image-uri", required=True, help="container image of the processing and training jobs"
    )
    parser.add_argument("--output-s3", required=True, help="s3:// prefix for the processed data and models")
    parser.add_argument("--instance-type", default="ml.m5.xlarge")
    parser.add_argument("--tuning-jobs", type=int, default=4)
    parser.add_argument("--out", type=Path, help="write the definition here (default: stdout)")
    args = parser.parse_args(argv)
    try:
        definition = pipeline_definition(
            role_arn=args.role_arn,
            image_uri=args.image_uri,
            output_s3=args.output_s3,
            instance_type=args.instance_type,
            tuning_jobs=args.tuning_jobs,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = json.dumps(definition, indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
