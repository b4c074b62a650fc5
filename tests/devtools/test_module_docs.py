"""The module README tables are rendered from the HCL, and --check catches a stale README."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.devtools import module_docs

VARIABLES = """
variable "name" {
  type        = string
  description = "What to call it."
}

variable "tenants" {
  type = map(object({
    budget = number
  }))
  description = "Tenants | keyed by <id>."
  default     = {}
}

variable "optional_thing" {
  type        = number
  description = "Nothing by default."
  default     = null
}
"""

OUTPUTS = """
output "secret" {
  description = "A sensitive value."
  value       = "x"
  sensitive   = true
}

output "arn" {
  description = "The ARN."
  value       = aws_sns_topic.this.arn
}

resource "aws_sns_topic" "this" {
  name = var.name
}
"""

README = f"""# example

Usage text written by hand.

```hcl
module "example" {{}}
```

{module_docs.BEGIN_MARKER}
{module_docs.END_MARKER}

Trailing notes.
"""


def make_module(root: Path, name: str = "example") -> Path:
    module = root / name
    module.mkdir(parents=True)
    (module / "variables.tf").write_text(VARIABLES)
    (module / "outputs.tf").write_text(OUTPUTS)
    (module / "README.md").write_text(README)
    add_example(module)
    return module


def add_example(module: Path) -> None:
    (module / "examples" / "basic").mkdir(parents=True, exist_ok=True)
    (module / "examples" / "basic" / "main.tf").write_text('module "example" {\n  source = "../.."\n}\n')
    (module / "tests").mkdir(exist_ok=True)
    (module / "tests" / "examples.tftest.hcl").write_text('run "plans" {\n  command = plan\n}\n')


def test_render_then_check_passes_and_keeps_hand_written_text(tmp_path: Path) -> None:
    module = make_module(tmp_path)

    assert module_docs.run(tmp_path, check=True) == 1  # the empty tables are stale
    assert module_docs.run(tmp_path, check=False) == 0
    assert module_docs.run(tmp_path, check=True) == 0

    readme = (module / "README.md").read_text()
    assert readme.startswith("# example\n\nUsage text written by hand.")
    assert readme.rstrip().endswith("Trailing notes.")


def test_tables_show_types_defaults_requiredness_and_sensitivity(tmp_path: Path) -> None:
    module = make_module(tmp_path)

    tables = module_docs.render_tables(module)

    # Required inputs come first; a required input has no default.
    assert tables.index("`name`") < tables.index("`optional_thing`") < tables.index("`tenants`")
    assert '| <a name="input_name"></a> `name` | What to call it. | `string` | n/a | yes |' in tables
    assert "`optional_thing` | Nothing by default. | `number` | `null` | no |" in tables
    assert "`map(object({budget = number}))` | `{}` | no |" in tables
    # Pipes and angle brackets cannot break the table or become HTML.
    assert "Tenants \\| keyed by &lt;id&gt;." in tables
    assert "`secret` | A sensitive value. | yes |" in tables
    assert "| `aws_sns_topic` | `this` |" in tables


def test_a_changed_description_makes_check_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = make_module(tmp_path)
    module_docs.run(tmp_path, check=False)

    variables = module / "variables.tf"
    variables.write_text(variables.read_text().replace("What to call it.", "The topic name."))

    assert module_docs.run(tmp_path, check=True) == 1
    assert "out of date" in capsys.readouterr().err
    assert "What to call it." in (module / "README.md").read_text()  # --check changes nothing


def test_missing_markers_or_descriptions_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    no_markers = make_module(tmp_path, "no-markers")
    (no_markers / "README.md").write_text("# no markers\n")
    undocumented = make_module(tmp_path, "undocumented")
    (undocumented / "variables.tf").write_text('variable "x" {\n  type = string\n}\n')

    assert module_docs.run(tmp_path, check=False) == 1

    err = capsys.readouterr().err
    assert "needs the markers" in err
    assert "no description for x" in err
    assert (no_markers / "README.md").read_text() == "# no markers\n"


def test_the_repository_module_readmes_are_up_to_date() -> None:
    assert module_docs.run(module_docs.MODULES_DIR, check=True) == 0


def test_the_usage_is_the_modules_example(tmp_path: Path) -> None:
    from scripts.devtools.module_docs import EXAMPLE_BEGIN, with_example

    module = tmp_path / "topic"
    add_example(module)
    readme = '# topic\n\n```hcl\nmodule "old" {}\n```\n\n<!-- BEGIN_TF_DOCS -->\n<!-- END_TF_DOCS -->\n'

    once = with_example(module, readme)

    assert EXAMPLE_BEGIN in once and 'module "old"' not in once and 'source = "../.."' in once
    assert with_example(module, once) == once  # stable: make docs-check passes after make docs


def test_a_module_without_its_planned_example_fails_the_check(tmp_path: Path, capsys) -> None:
    module = make_module(tmp_path / "modules")
    (module / "tests" / "examples.tftest.hcl").unlink()
    assert module_docs.run(tmp_path / "modules", check=True) == 1
    assert "needs examples/basic/main.tf and tests/examples.tftest.hcl" in capsys.readouterr().err
