"""Regenerate `aws_schema.json`: the subset of the AWS provider schema the offline stand-in serves.

The source is the jsii assembly of `cdktn-provider-aws` (AWS provider 6.69.x). It is only needed to
regenerate, never to run `make validate`, so install it into a throwaway venv:

    python3 -m venv /tmp/cdktn-venv
    /tmp/cdktn-venv/bin/pip install --no-deps cdktn-provider-aws==25.8.1
    .venv/bin/python -m scripts.testbed.terraform_offline.gen_schema --python /tmp/cdktn-venv/bin/python

(`--assembly <path to provider-aws@X.jsii.tgz>` works too.) The jsii type model knows names and value
types but not which optional arguments the provider also computes; the TypeScript source shipped in
each module's source map carries that per attribute (`// arn - computed: true, optional: false,
required: false`) together with how cdktn renders it to HCL (block or attribute, list/set/map,
single/max-one nesting). We read those two things and fail loudly on anything we do not recognise,
rather than guess a schema that would make `terraform validate` say something false.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT, used_aws_types

SCHEMA_PATH = Path(__file__).with_name("aws_schema.json")
PACKAGE = "cdktn-provider-aws"

# Types the modules are expected to use; generated even before any HCL mentions them so that the
# module author is never blocked on a regeneration.
BASELINE_RESOURCES = frozenset(
    [
        "aws_bedrock_inference_profile",
        "aws_budgets_budget",
        "aws_sns_topic",
        "aws_sns_topic_policy",
        "aws_sns_topic_subscription",
        "aws_kms_key",
        "aws_kms_alias",
        "aws_ce_anomaly_monitor",
        "aws_ce_anomaly_subscription",
        "aws_ce_cost_allocation_tag",
        "aws_s3_bucket",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_logging",
        "aws_bcmdataexports_export",
        "aws_glue_catalog_database",
        "aws_glue_catalog_table",
        "aws_athena_workgroup",
        "aws_cloudwatch_metric_alarm",
        "aws_cloudwatch_dashboard",
        "aws_cloudwatch_log_group",
        "aws_lambda_function",
        "aws_lambda_permission",
        "aws_iam_role",
        "aws_iam_role_policy",
        "aws_iam_policy",
        "aws_iam_role_policy_attachment",
        "aws_dynamodb_table",
        "aws_dynamodb_table_item",
        "aws_api_gateway_rest_api",
        "aws_api_gateway_resource",
        "aws_api_gateway_method",
        "aws_api_gateway_integration",
        "aws_api_gateway_deployment",
        "aws_api_gateway_stage",
        "aws_api_gateway_api_key",
        "aws_api_gateway_usage_plan",
        "aws_api_gateway_usage_plan_key",
        "aws_api_gateway_gateway_response",
        "aws_api_gateway_method_settings",
        "aws_api_gateway_account",
        "aws_cloudwatch_event_rule",
        "aws_cloudwatch_event_target",
        "aws_scheduler_schedule",
        "aws_sqs_queue",
        "aws_wafv2_web_acl",
        "aws_wafv2_web_acl_association",
        "aws_ssm_parameter",
        "aws_lambda_function_event_invoke_config",
    ]
)
BASELINE_DATA_SOURCES = frozenset(
    ["aws_caller_identity", "aws_region", "aws_partition", "aws_iam_policy_document"]
)

# Meta-arguments cdktn models as provider "attributes"; Terraform itself owns them.
_PROVIDER_META_ARGUMENTS = frozenset({"alias"})

_ATTRIBUTE_COMMENT = re.compile(
    r"^\s*// (\w+) - computed: (true|false), optional: (true|false), required: (true|false)\s*$"
)
_HCL_ENTRY = re.compile(
    r"^\s+(\w+): \{\n"
    r"\s+value: (?P<value>.*?),\n"
    r"\s+isBlock: (?P<is_block>true|false),\n"
    r'\s+type: "(?P<type>\w+)",\n'
    r'\s+storageClassType: "(?P<storage>\w+)",\n',
    re.MULTILINE,
)
_NESTED_CONSTRUCTION = re.compile(r'new (\w+?)(OutputReference|List|Map)\(this, "(\w+)"(?:, (true|false))?\)')
_PRIMITIVE_STORAGE = {"string": "string", "number": "number", "boolean": "bool"}
# Getters of computed-only attributes (they never appear in the HCL rendering).
_GETTER_TYPES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"cdktn\.Fn\.tolist\(this\.getListAttribute\("), ["set", "string"]),
    (re.compile(r"cdktn\.Fn\.tolist\(this\.getNumberListAttribute\("), ["set", "number"]),
    (re.compile(r"this\.getStringAttribute\("), "string"),
    (re.compile(r"this\.getNumberAttribute\("), "number"),
    (re.compile(r"this\.getBooleanAttribute\("), "bool"),
    (re.compile(r"this\.getListAttribute\("), ["list", "string"]),
    (re.compile(r"this\.getNumberListAttribute\("), ["list", "number"]),
    (re.compile(r"this\.getBooleanListAttribute\("), ["list", "bool"]),
    (re.compile(r"this\.getStringMapAttribute\("), ["map", "string"]),
    (re.compile(r"this\.getNumberMapAttribute\("), ["map", "number"]),
    (re.compile(r"this\.getBooleanMapAttribute\("), ["map", "bool"]),
    (re.compile(r"new cdktn\.StringMap\("), ["map", "string"]),
    (re.compile(r"new cdktn\.NumberMap\("), ["map", "number"]),
    (re.compile(r"new cdktn\.BooleanMap\("), ["map", "bool"]),
    (re.compile(r"this\.interpolationForAttribute\("), "dynamic"),
]


class SchemaGenerationError(Exception):
    """The assembly does not describe a type the way this generator understands."""


@dataclass
class _AttributeFacts:
    name: str
    computed: bool
    optional: bool
    required: bool
    body: str  # the class text between this attribute's comment and the next one


@dataclass
class _Source:
    """One cdktn module's TypeScript source, split into what the generator needs."""

    type_name: str
    text: str
    classes: dict[str, str] = field(default_factory=dict)
    hcl_functions: dict[str, str] = field(default_factory=dict)


def _split_declarations(text: str) -> tuple[dict[str, str], dict[str, str]]:
    classes: dict[str, str] = {}
    hcl_functions: dict[str, str] = {}
    starts = [m for m in re.finditer(r"^export (class|function|interface) (\w+)", text, re.MULTILINE)]
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        body = text[match.start() : end]
        kind, name = match.group(1), match.group(2)
        if kind == "class":
            classes[name] = body
        elif kind == "function" and name.endswith("ToHclTerraform"):
            hcl_functions[name] = body
    return classes, hcl_functions


def _attribute_facts(class_body: str) -> list[_AttributeFacts]:
    lines = class_body.splitlines()
    facts: list[_AttributeFacts] = []
    marks = [(i, _ATTRIBUTE_COMMENT.match(line)) for i, line in enumerate(lines)]
    marks = [(i, m) for i, m in marks if m]
    for position, (line_index, match) in enumerate(marks):
        end = marks[position + 1][0] if position + 1 < len(marks) else len(lines)
        # Stop at the synthesis section so the last attribute does not swallow it.
        body_lines: list[str] = []
        for line in lines[line_index + 1 : end]:
            if "// ==========" in line or "protected synthesize" in line:
                break
            body_lines.append(line)
        facts.append(
            _AttributeFacts(
                name=match.group(1),
                computed=match.group(2) == "true",
                optional=match.group(3) == "true",
                required=match.group(4) == "true",
                body="\n".join(body_lines),
            )
        )
    return facts


def _hcl_entries(body: str) -> dict[str, dict[str, str]]:
    return {
        m.group(1): {"is_block": m.group("is_block"), "type": m.group("type"), "storage": m.group("storage")}
        for m in _HCL_ENTRY.finditer(body)
    }


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


class _Converter:
    def __init__(self, source: _Source) -> None:
        self.source = source
        self.approximations: list[str] = []

    def fail(self, message: str) -> SchemaGenerationError:
        return SchemaGenerationError(f"{self.source.type_name}: {message}")

    def struct_block(self, struct: str, *, inside_nested_attribute: bool = False) -> dict[str, Any]:
        hcl_body = self.source.hcl_functions.get(f"{_lower_first(struct)}ToHclTerraform", "")
        class_body = self.source.classes.get(f"{struct}OutputReference")
        if class_body is None:
            # Provider structs have no reference class: they are configuration only.
            class_body = self._class_from_interface(struct, hcl_body)
        return self.block(class_body, _hcl_entries(hcl_body), inside_nested_attribute=inside_nested_attribute)

    def _class_from_interface(self, struct: str, hcl_body: str) -> str:
        """Synthesise the attribute comments cdktn writes into reference classes, from the interface."""
        interface = re.search(
            rf"^export interface {struct} \{{\n(.*?)^\}}", self.source.text, re.MULTILINE | re.DOTALL
        )
        if interface is None or not hcl_body:
            raise self.fail(f"no reference class, interface or HCL rendering for {struct}")
        optional_properties = set(re.findall(r"^\s+readonly (\w+)\?:", interface.group(1), re.MULTILINE))
        lines = []
        for match in _HCL_ENTRY.finditer(hcl_body):
            property_match = re.search(r"struct!\.(\w+)", match.group("value"))
            if property_match is None:
                raise self.fail(f"{struct}.{match.group(1)}: cannot find its property")
            optional = property_match.group(1) in optional_properties
            lines.append(
                f"  // {match.group(1)} - computed: false, optional: {str(optional).lower()}, "
                f"required: {str(not optional).lower()}"
            )
        return "\n".join(lines)

    def block(
        self,
        class_body: str,
        hcl: dict[str, dict[str, str]],
        *,
        skip: frozenset[str] = frozenset(),
        inside_nested_attribute: bool = False,
    ) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        block_types: dict[str, Any] = {}
        for facts in _attribute_facts(class_body):
            if facts.name in skip:
                continue
            entry = hcl.get(facts.name)
            nested = _NESTED_CONSTRUCTION.search(facts.body)
            if nested and nested.group(3) != facts.name:
                raise self.fail(f"attribute {facts.name} constructs {nested.group(3)}")
            if entry and entry["is_block"] == "true":
                if inside_nested_attribute:
                    raise self.fail(f"block {facts.name} inside a nested attribute")
                block_types[facts.name] = self.block_type(facts, entry, nested)
            else:
                attributes[facts.name] = self.attribute(facts, entry, nested)
        result: dict[str, Any] = {}
        if attributes:
            result["attributes"] = dict(sorted(attributes.items()))
        if block_types:
            result["block_types"] = dict(sorted(block_types.items()))
        return result

    def block_type(
        self, facts: _AttributeFacts, entry: dict[str, str], nested: re.Match[str] | None
    ) -> dict[str, Any]:
        if nested is not None:
            struct, wrapper, _, wraps_set = nested.groups()
        elif entry["storage"].endswith("List"):  # provider blocks are plain fields
            struct, wrapper, wraps_set = entry["storage"].removesuffix("List"), "List", None
        else:
            raise self.fail(f"block {facts.name} has no nested class")
        block_type: dict[str, Any] = {"block": self.struct_block(struct)}
        if entry["type"] == "struct":
            block_type["nesting_mode"] = "single"
        elif entry["type"] in ("list", "set") and wrapper == "OutputReference":
            block_type["nesting_mode"] = "list"
            block_type["max_items"] = 1
        elif entry["type"] in ("list", "set") and wrapper == "List":
            block_type["nesting_mode"] = "set" if (entry["type"] == "set" or wraps_set == "true") else "list"
        else:
            raise self.fail(f"block {facts.name}: unknown rendering {entry['type']}/{wrapper}")
        if facts.required and block_type["nesting_mode"] != "single":
            block_type["min_items"] = 1
        opaque = sorted(
            name
            for name, a in block_type["block"].get("attributes", {}).items()
            if a.get("type") == "dynamic"
        )
        if block_type["nesting_mode"] == "set" and opaque:
            # Terraform forbids dynamic attributes in set blocks; cdktn types a nested schema it finds
            # too deep to express as `any`. Serving the set as a list keeps the rest of the type usable.
            block_type["nesting_mode"] = "list"
            self.approximations.append(
                f"{self.source.type_name}.{facts.name}: set served as list; {', '.join(opaque)} typed as any "
                "by cdktn (nested schema too deep), so only attribute syntax is accepted offline"
            )
        return block_type

    def attribute(
        self, facts: _AttributeFacts, entry: dict[str, str] | None, nested: re.Match[str] | None
    ) -> dict[str, Any]:
        attribute: dict[str, Any] = {}
        if nested is not None:
            struct, wrapper, _, wraps_set = nested.groups()
            kind = entry["type"] if entry else None
            if wrapper == "List":
                mode = "set" if (kind == "set" or wraps_set == "true") else "list"
            elif wrapper == "Map":
                mode = "map"
            else:
                mode = "single"
            attribute["nested_type"] = {
                **self.struct_block(struct, inside_nested_attribute=True),
                "nesting_mode": mode,
            }
        elif entry is not None:
            attribute["type"] = self.hcl_type(facts.name, entry)
        else:
            attribute["type"] = self.getter_type(facts)
        for flag in ("required", "optional", "computed"):
            if getattr(facts, flag):
                attribute[flag] = True
        if not (facts.required or facts.optional or facts.computed):
            raise self.fail(f"attribute {facts.name} is neither required, optional nor computed")
        return attribute

    def hcl_type(self, name: str, entry: dict[str, str]) -> Any:
        storage, kind = entry["storage"], entry["type"]
        if kind == "simple" and storage in _PRIMITIVE_STORAGE:
            return _PRIMITIVE_STORAGE[storage]
        if kind == "simple" and storage == "any":
            return "dynamic"
        # Collections are spelled element-first: stringList, stringMapMap (map of map of string).
        match = re.fullmatch(r"(string|number|boolean|any)((?:List|Map)+)", storage)
        if kind in ("list", "set", "map") and match:
            cty_type: Any = {"any": "dynamic", **_PRIMITIVE_STORAGE}[match.group(1)]
            wrappers = re.findall("List|Map", match.group(2))
            for wrapper in wrappers[:-1]:
                cty_type = ["list" if wrapper == "List" else "map", cty_type]
            return [kind, cty_type]
        raise self.fail(f"attribute {name}: unknown HCL rendering {kind}/{storage}")

    def getter_type(self, facts: _AttributeFacts) -> Any:
        for pattern, cty_type in _GETTER_TYPES:
            if pattern.search(facts.body):
                return cty_type
        raise self.fail(f"attribute {facts.name}: cannot tell its type from {facts.body.strip()[:200]!r}")


def _top_level_class(source: _Source, base: str) -> str:
    for name, body in source.classes.items():
        if f"extends cdktn.{base} " in body.split("\n", 1)[0] + " ":
            return name
    raise SchemaGenerationError(f"{source.type_name}: no class extending cdktn.{base}")


def convert(source: _Source, base: str, approximations: list[str] | None = None) -> dict[str, Any]:
    converter = _Converter(source)
    class_body = source.classes[_top_level_class(source, base)]
    match = re.search(r"protected synthesizeHclAttributes\(\).*?\n  \}\n", class_body, re.DOTALL)
    if not match:
        raise converter.fail("no synthesizeHclAttributes")
    skip = _PROVIDER_META_ARGUMENTS if base == "TerraformProvider" else frozenset()
    block = converter.block(class_body, _hcl_entries(match.group(0)), skip=skip)
    if approximations is not None:
        approximations.extend(converter.approximations)
    return block


def _lib_directory(kind: str, type_name: str) -> str:
    stem = type_name.removeprefix("aws_").replace("_", "-")
    return f"data-aws-{stem}" if kind == "data" else stem


def _typescript_source(javascript: str) -> str:
    match = re.search(r"sourceMappingURL=data:application/json;base64,(\S+)", javascript)
    if not match:
        raise SchemaGenerationError("module has no inline source map")
    source_map = json.loads(base64.b64decode(match.group(1)))
    return str(source_map["sourcesContent"][0])


def find_assembly(python: str) -> Path:
    """The jsii tarball inside the cdktn_provider_aws package installed for `python`."""
    code = (
        "import importlib.util; s = importlib.util.find_spec('cdktn_provider_aws'); "
        "print(s.submodule_search_locations[0] if s else '')"
    )
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    package_dir = result.stdout.strip()
    if not package_dir:
        raise SchemaGenerationError(f"{PACKAGE} is not installed for {python}")
    tarballs = sorted(Path(package_dir, "_jsii").glob("*.jsii.tgz"))
    if not tarballs:
        raise SchemaGenerationError(f"no jsii assembly under {package_dir}/_jsii")
    return tarballs[0]


def read_sources(assembly: Path, wanted: dict[str, tuple[str, str]]) -> tuple[dict[str, str], dict[str, Any]]:
    """TypeScript sources for the wanted lib directories (dir -> (kind, type)), plus package.json."""
    members = {f"package/lib/{directory}/index.js": directory for directory in wanted}
    found: dict[str, str] = {}
    package_json: dict[str, Any] = {}
    with tarfile.open(assembly, "r:gz") as archive:
        for member in archive:
            if member.name == "package/package.json":
                package_json = json.load(archive.extractfile(member))  # type: ignore[arg-type]
            directory = members.get(member.name)
            if directory is None:
                continue
            extracted = archive.extractfile(member)
            if extracted is None:
                continue
            found[directory] = _typescript_source(extracted.read().decode("utf-8"))
    missing = sorted(f"{wanted[d][0]} {wanted[d][1]} (lib/{d})" for d in wanted if d not in found)
    if missing:
        raise SchemaGenerationError(
            f"{assembly.name} has no module for: {', '.join(missing)}. Check the type name, or use a newer "
            f"{PACKAGE} that knows it."
        )
    return found, package_json


def generate(assembly: Path, resources: set[str], data_sources: set[str]) -> dict[str, Any]:
    wanted: dict[str, tuple[str, str]] = {"provider": ("provider", "aws")}
    wanted |= {_lib_directory("resource", t): ("resource", t) for t in resources}
    wanted |= {_lib_directory("data", t): ("data", t) for t in data_sources}
    sources, package_json = read_sources(assembly, wanted)

    def checked_source(directory: str) -> _Source:
        kind, type_name = wanted[directory]
        text = sources[directory]
        if kind != "provider" and f'tfResourceType = "{type_name}"' not in text:
            raise SchemaGenerationError(f"lib/{directory} does not define {kind} {type_name}")
        classes, hcl_functions = _split_declarations(text)
        return _Source(type_name, text, classes, hcl_functions)

    checked = {directory: checked_source(directory) for directory in wanted}  # all mismatches before work
    approximations: list[str] = []
    provider_version = package_json.get("cdktf", {}).get("provider", {}).get("version", "?")
    schema: dict[str, Any] = {
        "format_version": "1.0",
        "generated_from": {
            "package": f"{PACKAGE}=={package_json.get('version', '?')}",
            "provider": f"hashicorp/aws {provider_version}",
            "regenerate": "python -m scripts.testbed.terraform_offline.gen_schema --python <venv with the package>",
        },
        "provider": {"version": 0, "block": convert(checked["provider"], "TerraformProvider")},
        "approximations": approximations,
        "resource_schemas": {},
        "data_source_schemas": {},
    }
    for type_name in sorted(resources):
        block = convert(checked[_lib_directory("resource", type_name)], "TerraformResource", approximations)
        schema["resource_schemas"][type_name] = {"version": 0, "block": block}
    for type_name in sorted(data_sources):
        block = convert(checked[_lib_directory("data", type_name)], "TerraformDataSource", approximations)
        schema["data_source_schemas"][type_name] = {"version": 0, "block": block}
    return schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--python", help=f"a Python interpreter that has {PACKAGE} installed")
    source.add_argument("--assembly", type=Path, help="path to the provider-aws@X.jsii.tgz assembly")
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH)
    args = parser.parse_args(argv)
    try:
        assembly = args.assembly or find_assembly(args.python)
        used = used_aws_types(REPO_ROOT / "modules", REPO_ROOT / "terraform")
        schema = generate(
            assembly,
            set(BASELINE_RESOURCES | used.resources),
            set(BASELINE_DATA_SOURCES | used.data_sources),
        )
    except (SchemaGenerationError, subprocess.CalledProcessError, OSError) as error:
        print(f"gen_schema: {error}", file=sys.stderr)
        return 1
    args.output.write_text(json.dumps(schema, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(
        f"wrote {args.output}: {len(schema['resource_schemas'])} resources, "
        f"{len(schema['data_source_schemas'])} data sources, from {schema['generated_from']['package']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
