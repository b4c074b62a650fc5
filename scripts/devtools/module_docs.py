"""Render each module README's inputs/outputs tables from the module's HCL.

`python -m scripts.devtools.module_docs` rewrites the part of every `modules/<m>/README.md` between
`<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->`; `--check` changes nothing and exits 1 if any README
is stale (or lacks the markers), so CI catches a variable added without its documentation.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import jinja2

from scripts import REPO_ROOT

MODULES_DIR = REPO_ROOT / "modules"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "module_docs.md.j2"
BEGIN_MARKER = "<!-- BEGIN_TF_DOCS -->"
END_MARKER = "<!-- END_TF_DOCS -->"


class ModuleDocsError(Exception):
    """A module or README cannot be documented; the message names the file."""


@dataclass(frozen=True)
class Input:
    name: str
    description: str
    type: str
    default: str
    required: bool


@dataclass(frozen=True)
class Output:
    name: str
    description: str
    sensitive: bool


@dataclass(frozen=True)
class Block:
    type: str
    name: str


@dataclass(frozen=True)
class ModuleCall:
    name: str
    source: str


def _unquote(raw: Any) -> str:
    """python-hcl2 keeps string literals quoted ("\\"text\\"") and wraps expressions in ${...}."""
    if not isinstance(raw, str):
        return str(raw)
    text = raw.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text[1:-1]
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return text


def _render_value(value: Any) -> str:
    """A default as HCL would print it: strings quoted, collections as JSON, null for None."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("${") and text.endswith("}"):
            return text[2:-1]
        if text.startswith('"') and text.endswith('"'):
            return text
        return json.dumps(text)
    if isinstance(value, dict):
        cleaned = {_unquote(k): v for k, v in value.items() if not str(k).startswith("__")}
        return "{" + ", ".join(f"{k} = {_render_value(v)}" for k, v in cleaned.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_render_value(item) for item in value) + "]"
    return json.dumps(value)


def _parse(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            return hcl2.load(handle)
    except Exception as error:  # python-hcl2 raises lark errors of several kinds
        raise ModuleDocsError(f"{path}: cannot parse HCL: {error}") from error


def _blocks(document: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for entry in document.get(kind, []):
        for name, body in entry.items():
            found.append((_unquote(name), body))
    return found


def read_module(module_dir: Path) -> dict[str, Any]:
    """Inputs, outputs, resources and module calls declared by every .tf file of one module."""
    inputs: list[Input] = []
    outputs: list[Output] = []
    resources: list[Block] = []
    calls: list[ModuleCall] = []
    for path in sorted(module_dir.glob("*.tf")):
        document = _parse(path)
        for name, body in _blocks(document, "variable"):
            required = "default" not in body
            inputs.append(
                Input(
                    name=name,
                    description=_unquote(body.get("description", "")),
                    type=_unquote(body.get("type", "any")),
                    default="" if required else _render_value(body["default"]),
                    required=required,
                )
            )
        for name, body in _blocks(document, "output"):
            outputs.append(
                Output(
                    name=name,
                    description=_unquote(body.get("description", "")),
                    sensitive=bool(body.get("sensitive", False)),
                )
            )
        for entry in document.get("resource", []):
            for resource_type, named in entry.items():
                for resource_name in named:
                    resources.append(Block(_unquote(resource_type), _unquote(resource_name)))
        for name, body in _blocks(document, "module"):
            calls.append(ModuleCall(name, _unquote(body.get("source", ""))))
    undocumented = [i.name for i in inputs if not i.description]
    undocumented += [o.name for o in outputs if not o.description]
    if undocumented:
        raise ModuleDocsError(f"{module_dir}: no description for {', '.join(sorted(undocumented))}")
    return {
        # Required inputs first: they are what a caller must decide.
        "inputs": sorted(inputs, key=lambda i: (not i.required, i.name)),
        "outputs": sorted(outputs, key=lambda o: o.name),
        "resources": sorted(resources, key=lambda r: (r.type, r.name)),
        "modules": sorted(calls, key=lambda c: c.name),
    }


def _cell(text: Any) -> str:
    """Keep a value inside one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _text_cell(text: Any) -> str:
    """A prose cell: also escape angle brackets, which Markdown would take for HTML tags."""
    return _cell(text).replace("<", "&lt;").replace(">", "&gt;")


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,  # noqa: S701 - Markdown, not HTML; cells are escaped by the cell filter
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["cell"] = _cell
    environment.filters["text"] = _text_cell
    return environment


def render_tables(module_dir: Path) -> str:
    template = _environment().get_template(TEMPLATE_NAME)
    rendered = template.render(begin_marker=BEGIN_MARKER, end_marker=END_MARKER, **read_module(module_dir))
    # Collapse the blank lines the optional sections leave behind.
    lines: list[str] = []
    for line in rendered.splitlines():
        if line == "" and lines and lines[-1] == "":
            continue
        lines.append(line.rstrip())
    return "\n".join(lines)


def updated_readme(readme: Path, tables: str) -> str:
    if not readme.is_file():
        raise ModuleDocsError(f"{readme}: missing (write its usage, then {BEGIN_MARKER} {END_MARKER})")
    text = readme.read_text(encoding="utf-8")
    begin, end = text.find(BEGIN_MARKER), text.find(END_MARKER)
    if begin < 0 or end < 0 or end < begin:
        raise ModuleDocsError(f"{readme}: needs the markers {BEGIN_MARKER} and {END_MARKER}, in that order")
    return text[:begin] + tables + text[end + len(END_MARKER) :]


EXAMPLE = Path("examples") / "basic" / "main.tf"
EXAMPLE_BEGIN = "<!-- BEGIN_EXAMPLE: examples/basic/main.tf, planned by tests/examples.tftest.hcl -->"
EXAMPLE_END = "<!-- END_EXAMPLE -->"
EXAMPLE_TEST = Path("tests") / "examples.tftest.hcl"
_FIRST_HCL_BLOCK = re.compile(r"```hcl\n.*?\n```\n", re.DOTALL)


def with_example(module_dir: Path, text: str) -> str:
    """The README's usage is the module's runnable example, copied between the example markers (the
    first ```hcl block becomes them the first time)."""
    example = module_dir / EXAMPLE
    if not example.is_file() or not (module_dir / EXAMPLE_TEST).is_file():
        # Every module ships a runnable example, planned by its own terraform test (issue 10).
        raise ModuleDocsError(f"{module_dir}: needs {EXAMPLE} and {EXAMPLE_TEST} (copy another module's)")
    block = f"{EXAMPLE_BEGIN}\n```hcl\n{example.read_text(encoding='utf-8').rstrip()}\n```\n{EXAMPLE_END}\n"
    begin, end = text.find(EXAMPLE_BEGIN), text.find(EXAMPLE_END)
    if begin >= 0 and end > begin:
        return text[:begin] + block + text[end + len(EXAMPLE_END) :].removeprefix("\n")
    usage = _FIRST_HCL_BLOCK.search(text[: text.find(BEGIN_MARKER)])
    if usage is None:
        raise ModuleDocsError(f"{module_dir / 'README.md'}: no ```hcl usage block to replace with {EXAMPLE}")
    return text[: usage.start()] + block + text[usage.end() :]


def module_dirs(modules_dir: Path) -> list[Path]:
    return sorted(path for path in modules_dir.iterdir() if path.is_dir() and any(path.glob("*.tf")))


def run(modules_dir: Path, check: bool) -> int:
    stale: list[str] = []
    errors: list[str] = []
    for module_dir in module_dirs(modules_dir):
        readme = module_dir / "README.md"
        try:
            new_text = with_example(module_dir, updated_readme(readme, render_tables(module_dir)))
        except ModuleDocsError as error:
            errors.append(str(error))
            continue
        if readme.read_text(encoding="utf-8") == new_text:
            continue
        if check:
            stale.append(str(readme))
        else:
            readme.write_text(new_text, encoding="utf-8")
            print(f"updated {readme}")
    for error in errors:
        print(f"module_docs: {error}", file=sys.stderr)
    for path in stale:
        print(f"module_docs: {path} is out of date: run `make docs`", file=sys.stderr)
    return 1 if errors or stale else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if any README is stale; change nothing")
    parser.add_argument("--modules-dir", type=Path, default=MODULES_DIR, help="directory of the modules")
    args = parser.parse_args(argv)
    return run(args.modules_dir, args.check)


if __name__ == "__main__":
    sys.exit(main())
