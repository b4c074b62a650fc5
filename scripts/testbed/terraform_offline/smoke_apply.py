"""`make smoke-apply`: apply both account roots (and the container module's complete example) to a moto server with
the real AWS provider, then destroy.

A plan only shows what Terraform would send; an apply shows that AWS's API (as moto emulates it)
accepts it: IAM policies that parse, KMS key policies, API Gateway wiring, DynamoDB items, Lambda
functions. Everything happens in a temporary copy (see real_provider.py) against moto on 127.0.0.1:

- the real hashicorp/aws from the filesystem mirror, with ``endpoints`` for every service pointing at
  moto, ``max_retries = 3`` (a connection moto closes under load is retried), fake credentials, every
  ``skip_*`` flag, path-style S3;
- moto with ``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` (the AWS-managed policies the roles attach);
- the resource types moto cannot create (``UNSUPPORTED_BY_MOTO``, the one list) are printed and
  replaced, in the copy only, by ``terraform_data`` stand-ins that keep their for_each/count and expose
  the attributes the configuration reads; references to them are rewritten to the stand-in's output.

No real provider on the machine: one printed skip line, and success.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from scripts import REPO_ROOT
from scripts.testbed.terraform_offline.hcl_scan import _block_body, discover_roots
from scripts.testbed.terraform_offline.real_provider import (
    Mirror,
    RealWorkspace,
    find_mirror,
    real_workspace,
)
from scripts.testbed.terraform_offline.runner import (
    TFVARS,
    StepResult,
    _display,
    _print_result,
    build_lambda,
    terraform,
)
from scripts.testbed.terraform_offline.workspace import BACKEND_OVERRIDE

# What moto 5 has no API for (or cannot create): stubbed in the copy, listed in one place.
UNSUPPORTED_BY_MOTO: Mapping[str, str] = {
    "aws_bedrock_inference_profile": "Bedrock application inference profiles",
    "aws_bcmdataexports_export": "Data Exports (CUR 2.0)",
    "aws_ce_anomaly_monitor": "Cost Anomaly Detection monitors",
    "aws_ce_anomaly_subscription": "Cost Anomaly Detection subscriptions",
    "aws_ce_cost_allocation_tag": "cost allocation tag activation",
    "aws_budgets_budget": "AWS Budgets notifications (no DescribeSubscribersForNotification)",
    "aws_appautoscaling_target": "Application Auto Scaling targets (no ListTagsForResource)",
    "aws_appautoscaling_policy": "Application Auto Scaling policies (on the stubbed target)",
}
# moto's default account: ARNs the roots build from account_id then match what moto returns.
MOTO_ACCOUNT_ID = "123456789012"
# Every service the roots create resources in: a service missing here would make the provider call the
# real AWS endpoint (and fail on this machine's closed network).
SERVICES = [
    "acm",
    "apigateway",
    "applicationautoscaling",
    "athena",
    "bcmdataexports",
    "bedrock",
    "budgets",
    "ce",
    "cloudtrail",
    "cloudwatch",
    "dynamodb",
    "ec2",
    "ecs",
    "elbv2",
    "events",
    "glue",
    "iam",
    "kms",
    "lambda",
    "logs",
    "organizations",
    "resourcegroupstaggingapi",
    "s3",
    "sagemaker",
    "sns",
    "sqs",
    "sts",
    "wafv2",
]

_HEADER = re.compile(r'^resource\s+"(aws_[a-z0-9_]+)"\s+"([A-Za-z0-9_-]+)"\s*\{', re.MULTILINE)
_META_LINE = re.compile(r"^\s{2}(for_each|count)\s*=.*$", re.MULTILINE)


def provider_config(moto_url: str) -> str:
    endpoints = "\n".join(f'    {service} = "{moto_url}"' for service in SERVICES)
    return f"""# Written by scripts/testbed/terraform_offline/smoke_apply.py into a temporary copy only.
provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "moto"
  secret_key                  = "moto"
  skip_credentials_validation = true
  # The account id comes from moto's STS: the provider builds ARNs (Athena's) from it.
  skip_requesting_account_id  = false
  skip_metadata_api_check     = true
  skip_region_validation      = true
  allowed_account_ids         = null
  # Retries (the SDK's standard ones: connection errors, throttling, 5xx) only matter when moto's
  # server closes a kept-alive connection under load; its answers are otherwise immediate and final.
  max_retries                 = 3
  s3_use_path_style           = true

  endpoints {{
{endpoints}
  }}
}}
"""


# ARNs in the shape AWS gives them, so IAM policies naming them are accepted.
_STUB_ARNS = {
    "aws_bedrock_inference_profile": "arn:aws:bedrock:us-east-1:{account}:application-inference-profile/{suffix}",
    "aws_bcmdataexports_export": "arn:aws:bcm-data-exports:us-east-1:{account}:export/{suffix}",
    "aws_ce_anomaly_monitor": "arn:aws:ce::{account}:anomalymonitor/{suffix}",
    "aws_ce_anomaly_subscription": "arn:aws:ce::{account}:anomalysubscription/{suffix}",
    "aws_ce_cost_allocation_tag": "arn:aws:ce::{account}:costallocationtag/{suffix}",
    "aws_budgets_budget": "arn:aws:budgets::{account}:budget/{suffix}",
    "aws_appautoscaling_target": "arn:aws:application-autoscaling:us-east-1:{account}:scalable-target/{suffix}",
    "aws_appautoscaling_policy": "arn:aws:autoscaling:us-east-1:{account}:scalingPolicy:{suffix}",
}


# Attributes every stand-in has, for expressions that iterate over a stubbed resource (`b.arn`).
_COMMON_ATTRIBUTES = frozenset({"id", "arn", "name", "status"})


def _iteration_kind(body: str) -> str:
    meta_lines = [match.group(0).strip() for match in _META_LINE.finditer(body)]
    if any(line.startswith("for_each") for line in meta_lines):
        return "for_each"
    return "count" if meta_lines else "single"


def _stub_block(
    type_name: str, name: str, body: str, attributes: set[str], nested: dict[str, set[str]]
) -> str:
    meta_lines = [match.group(0).strip() for match in _META_LINE.finditer(body)]
    key = {"for_each": "each.key", "count": "count.index", "single": '"this"'}[_iteration_kind(body)]
    suffix = f'stub-${{replace(tostring({key}), "/", "-")}}'
    values = {attribute: f'"{attribute}-{suffix}"' for attribute in sorted(attributes | _COMMON_ATTRIBUTES)}
    values["arn"] = '"' + _STUB_ARNS[type_name].format(account=MOTO_ACCOUNT_ID, suffix=suffix) + '"'
    for block, inner in nested.items():  # `export[0].export_arn`: a nested block read by index
        values[block] = "[{ " + ", ".join(f'{field} = "{field}-{suffix}"' for field in sorted(inner)) + " }]"
    inputs = "\n".join(f"    {attribute} = {value}" for attribute, value in sorted(values.items()))
    return (
        f"# {type_name}.{name}: moto cannot create it ({UNSUPPORTED_BY_MOTO[type_name]}); stubbed.\n"
        f'resource "terraform_data" "{stub_name(type_name, name)}" {{\n'
        + "".join(f"  {line}\n" for line in meta_lines)
        + f"  input = {{\n{inputs}\n  }}\n}}"
    )


def stub_name(type_name: str, name: str) -> str:
    return f"stub__{type_name}__{name}"


def _bare_reference(stub: str, kind: str) -> str:
    """What `aws_x.name` (the whole resource, e.g. iterated over) becomes."""
    if kind == "for_each":
        return f"{{ for k, v in terraform_data.{stub} : k => v.output }}"
    if kind == "count":
        return f"[for v in terraform_data.{stub} : v.output]"
    return f"terraform_data.{stub}.output"


def stub_unsupported(directory: Path) -> list[str]:
    """Replace every unsupported resource under directory (a copy) by a terraform_data stand-in."""
    files = [p for p in directory.rglob("*.tf") if ".terraform" not in p.parts]
    texts = {path: path.read_text(encoding="utf-8") for path in files}
    originals = dict(texts)
    kinds: dict[tuple[str, str], str] = {}
    stubbed: list[str] = []
    for path, text in texts.items():
        for match in reversed(list(_HEADER.finditer(text))):
            type_name, name = match.groups()
            if type_name not in UNSUPPORTED_BY_MOTO:
                continue
            body = _block_body(text, match.end() - 1)
            end = match.end() + len(body) + 1
            ref = rf"\b{type_name}\.{re.escape(name)}(?:\[[^\]]*\])?"
            everything = "\n".join(originals.values())
            attributes = set(re.findall(ref + r"\.(\w+)", everything))
            nested: dict[str, set[str]] = {}
            for block, inner in re.findall(ref + r"\.(\w+)\[0\]\.(\w+)", everything):
                nested.setdefault(block, set()).add(inner)
            kinds[(type_name, name)] = _iteration_kind(body)
            text = text[: match.start()] + _stub_block(type_name, name, body, attributes, nested) + text[end:]
            stubbed.append(f"{path.relative_to(directory)}: {type_name}.{name}")
        texts[path] = text
    for path, text in texts.items():
        lines = []
        for line in text.splitlines(keepends=True):
            for (type_name, name), kind in kinds.items():
                stub = stub_name(type_name, name)
                line = re.sub(
                    rf"\b{type_name}\.{re.escape(name)}((?:\[[^\]]*\])?)\.(\w+)",
                    lambda m, stub=stub: f"terraform_data.{stub}{m.group(1)}.output.{m.group(2)}",
                    line,
                )
                bare = f"terraform_data.{stub}" if "depends_on" in line else _bare_reference(stub, kind)
                line = re.sub(rf"\b{type_name}\.{re.escape(name)}\b(?![.\[])", lambda _m, b=bare: b, line)
            lines.append(line)
        text = "".join(lines)
        if text != originals[path]:
            path.write_text(text, encoding="utf-8")
    return stubbed


# Module examples applied beside the roots, each with what it needs from moto first (its -var arguments):
# the container deployment is not part of the workload root's default (gateway_deployment = "lambda").
CONTAINER_EXAMPLE = REPO_ROOT / "modules" / "gateway-container" / "examples" / "complete"


def imported_certificate(moto_url: str) -> list[str]:
    """The HTTPS listener needs a certificate ACM has: a self-signed one, imported into moto."""
    import datetime

    import boto3
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("gateway.example.com")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    acm = boto3.client(
        "acm",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="moto",
        aws_secret_access_key="moto",  # noqa: S106 (moto checks no signature)
    )
    arn = acm.import_certificate(
        Certificate=certificate.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )["CertificateArn"]
    return [f"-var=certificate_arn={arn}"]


EXAMPLES: Mapping[Path, Callable[[str], list[str]]] = {CONTAINER_EXAMPLE: imported_certificate}


_MODULE_CALL = re.compile(r'^module\s+"([^"]+)"\s*\{\s*\n\s*source\s*=\s*"([^"]+)"', re.MULTILINE)


def throwaway_overrides(root: Path) -> str:
    """The smoke environment is destroyed right after: its tables may go (deletion protection off)."""
    blocks = []
    for path in sorted(root.glob("*.tf")):
        for name, source in _MODULE_CALL.findall(path.read_text(encoding="utf-8")):
            if (root / source).resolve().name in {"gateway", "gateway-container"}:
                blocks.append(f'module "{name}" {{\n  deletion_protection = false\n}}\n')
    return "".join(blocks)


def apply_root(
    source: Path, workspace: RealWorkspace, moto_url: str, extra_variables: Sequence[str] = ()
) -> list[StepResult]:
    unit, copy, env = f"{_display(source)} (moto)", workspace.mirror(source), workspace.environment()
    overrides = provider_config(moto_url) + throwaway_overrides(copy)
    (copy / "zz_moto_provider_override.tf").write_text(overrides, encoding="utf-8")
    state = workspace.root.parent / "state" / f"{source.name}.tfstate"
    state.parent.mkdir(exist_ok=True)
    (copy / "zz_local_backend_override.tf").write_text(BACKEND_OVERRIDE % state, encoding="utf-8")
    variables = [
        "-input=false",
        "-lock=false",
        "-no-color",
        f"-var=account_id={MOTO_ACCOUNT_ID}",
        *extra_variables,
    ]
    if (copy / TFVARS).is_file():
        variables.insert(0, f"-var-file={TFVARS}")
    results = [terraform(unit, "init", ["init", "-input=false", "-no-color"], copy, env)]
    if results[-1].ok:
        results.append(terraform(unit, "apply", ["apply", "-auto-approve", *variables], copy, env))
        # Destroy whatever was created, also after a failed apply.
        results.append(terraform(unit, "destroy", ["destroy", "-auto-approve", *variables], copy, env))
    return results


def smoke_apply() -> bool:
    mirror: Mirror | None = find_mirror()
    if mirror is None:
        print("smoke apply: skipped, no real hashicorp/aws provider in a filesystem mirror on this machine")
        return True
    # Before moto is imported: the roles attach AWS-managed policies, which moto loads only when asked.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    from scripts.testbed.emulators.moto_server import start_moto

    started = time.monotonic()
    print(
        f"smoke apply: both account roots and the container example to moto with hashicorp/aws {mirror.version} "
        f"({mirror.path})"
    )
    print("moto cannot create these resource types; they are stubbed (terraform_data) in the copy:")
    for type_name, what in UNSUPPORTED_BY_MOTO.items():
        print(f"  {type_name:32} {what}")
    results: list[StepResult] = []
    built = build_lambda(dict(os.environ))
    if built is not None:
        results.append(built)
        _print_result(built)
    server, url = start_moto()
    try:
        with real_workspace(mirror) as workspace:
            for line in stub_unsupported(workspace.root / "modules") + stub_unsupported(
                workspace.root / "terraform"
            ):
                print(f"  stubbed {line}")
            # The roots are independent and the run is mostly the provider's waiters: apply them at once.
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = [pool.submit(apply_root, root, workspace, url) for root in discover_roots()]
                futures += [
                    pool.submit(apply_root, example, workspace, url, prepare(url))
                    for example, prepare in EXAMPLES.items()
                ]
                for future in futures:
                    for result in future.result():
                        results.append(result)
                        _print_result(result)
                        if result.ok and result.step == "apply":
                            created = re.search(r"Apply complete! Resources: (\d+) added", result.output)
                            stubs = result.output.count("terraform_data.stub__") and len(
                                set(
                                    re.findall(
                                        r"(terraform_data\.stub__\S+): Creation complete", result.output
                                    )
                                )
                            )
                            print(
                                f"        {created.group(1) if created else '?'} resources created in moto "
                                f"({stubs} of them stand-ins)"
                            )
    finally:
        server.stop()
    failures = [result for result in results if not result.ok]
    for failure in failures:
        print(f"\n--- {failure.unit}: {failure.step} failed ---")
        print("\n".join(failure.output.splitlines()[-80:]))
    verdict = "passed" if not failures else f"FAILED ({len(failures)} step(s))"
    print(f"\nsmoke apply {verdict} in {time.monotonic() - started:.1f}s", flush=True)
    return not failures


def main() -> int:
    return 0 if smoke_apply() else 1


if __name__ == "__main__":
    sys.exit(main())
