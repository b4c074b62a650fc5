"""The schema generator: how it reads cdktn's TypeScript, and that the committed subset is complete."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path

import pytest

from scripts.testbed.terraform_offline import gen_schema
from scripts.testbed.terraform_offline.gen_schema import (
    SchemaGenerationError,
    _Source,
    _split_declarations,
    convert,
)
from scripts.testbed.terraform_offline.hcl_scan import REPO_ROOT, used_aws_types
from scripts.testbed.terraform_offline.provider import load_schema

# A cut-down module in the shape cdktn generates (see lib/<type>/index.ts in the assembly).
WIDGET_TS = """
export interface WidgetRuleOutputReference {}
export function widgetRuleToHclTerraform(struct?: WidgetRule): any {
  const attrs = {
    priority: {
      value: cdktn.numberToHclTerraform(struct!.priority),
      isBlock: false,
      type: "simple",
      storageClassType: "number",
    },
  };
}
export class WidgetRuleOutputReference extends cdktn.ComplexObject {
  // priority - computed: false, optional: false, required: true
  private _priority?: number;
  public get priority() {
    return this.getNumberAttribute('priority');
  }
  // state - computed: true, optional: false, required: false
  public get state() {
    return this.getStringAttribute('state');
  }
}
export class WidgetRuleList extends cdktn.ComplexList {
}
export class Widget extends cdktn.TerraformResource {
  public static readonly tfResourceType = "aws_widget";
  // arn - computed: true, optional: false, required: false
  public get arn() {
    return this.getStringAttribute('arn');
  }
  // labels - computed: false, optional: true, required: false
  private _labels?: string[];
  public get labels() {
    return cdktn.Fn.tolist(this.getListAttribute('labels'));
  }
  // name - computed: true, optional: true, required: false
  private _name?: string;
  public get name() {
    return this.getStringAttribute('name');
  }
  // rule - computed: false, optional: false, required: true
  private _rule = new WidgetRuleList(this, "rule", true);
  public get rule() {
    return this._rule;
  }
  // settings - computed: false, optional: true, required: false
  private _settings = new WidgetRuleOutputReference(this, "settings");
  public get settings() {
    return this._settings;
  }
  // ==========
  // SYNTHESIS
  // ==========
  protected synthesizeHclAttributes(): { [name: string]: any } {
    const attrs = {
      labels: {
        value: cdktn.listMapperHcl(cdktn.stringToHclTerraform, false)(this._labels),
        isBlock: false,
        type: "set",
        storageClassType: "stringList",
      },
      name: {
        value: cdktn.stringToHclTerraform(this._name),
        isBlock: false,
        type: "simple",
        storageClassType: "string",
      },
      rule: {
        value: cdktn.listMapperHcl(widgetRuleToHclTerraform, true)(this._rule.internalValue),
        isBlock: true,
        type: "set",
        storageClassType: "WidgetRuleList",
      },
      settings: {
        value: widgetRuleToHclTerraform(this._settings.internalValue),
        isBlock: true,
        type: "list",
        storageClassType: "WidgetRuleList",
      },
    };
  }
}
"""


def widget_source(text: str = WIDGET_TS) -> _Source:
    classes, functions = _split_declarations(text)
    return _Source("aws_widget", text, classes, functions)


def test_reads_attributes_blocks_and_their_flags() -> None:
    block = convert(widget_source(), "TerraformResource")

    assert block["attributes"] == {
        "arn": {"type": "string", "computed": True},
        "labels": {"type": ["set", "string"], "optional": True},
        "name": {"type": "string", "optional": True, "computed": True},
    }
    rule = block["block_types"]["rule"]
    assert rule["nesting_mode"] == "set"
    assert rule["min_items"] == 1
    assert rule["block"]["attributes"] == {
        "priority": {"type": "number", "required": True},
        "state": {"type": "string", "computed": True},
    }
    settings = block["block_types"]["settings"]
    assert (settings["nesting_mode"], settings["max_items"]) == ("list", 1)


def test_an_unrecognised_getter_fails_loudly() -> None:
    text = WIDGET_TS.replace(
        "return this.getStringAttribute('arn');", "return this.getFancyAttribute('arn');"
    )

    with pytest.raises(SchemaGenerationError, match="aws_widget: attribute arn: cannot tell its type"):
        convert(widget_source(text), "TerraformResource")


def _assembly_with(tmp_path: Path, modules: dict[str, str]) -> Path:
    path = tmp_path / "provider-aws@0.0.0.jsii.tgz"
    with tarfile.open(path, "w:gz") as archive:
        files = {"package/package.json": json.dumps({"version": "0.0.0"})}
        for directory, typescript in modules.items():
            source_map = base64.b64encode(json.dumps({"sourcesContent": [typescript]}).encode()).decode()
            files[f"package/lib/{directory}/index.js"] = (
                f"//# sourceMappingURL=data:application/json;base64,{source_map}\n"
            )
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_a_type_missing_from_the_assembly_is_named(tmp_path: Path) -> None:
    assembly = _assembly_with(tmp_path, {"widget": WIDGET_TS})

    with pytest.raises(
        SchemaGenerationError, match=r"has no module for: data aws_gadget \(lib/data-aws-gadget\)"
    ):
        gen_schema.read_sources(
            assembly, {"widget": ("resource", "aws_widget"), "data-aws-gadget": ("data", "aws_gadget")}
        )


def test_a_module_for_another_type_is_refused(tmp_path: Path) -> None:
    assembly = _assembly_with(tmp_path, {"provider": "", "gizmo": WIDGET_TS})

    with pytest.raises(SchemaGenerationError, match="lib/gizmo does not define resource aws_gizmo"):
        gen_schema.generate(assembly, {"aws_gizmo"}, set())


def test_the_committed_subset_covers_every_type_the_hcl_uses() -> None:
    schema = load_schema()
    used = used_aws_types(REPO_ROOT / "modules", REPO_ROOT / "terraform")

    assert used.resources | gen_schema.BASELINE_RESOURCES <= set(schema["resource_schemas"])
    assert used.data_sources | gen_schema.BASELINE_DATA_SOURCES <= set(schema["data_source_schemas"])
    assert schema["generated_from"]["provider"].startswith("hashicorp/aws 6.")
