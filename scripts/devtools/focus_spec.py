"""Extract FOCUS column definitions from the specification's own text into the data file the FOCUS
export and its validator read (scripts/cli/reports/data/focus_1_2_columns.json).

    python -m scripts.devtools.focus_spec --spec <FOCUS_Spec checkout> [--tag v1.2] [--out FILE]

The source is FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec at a release tag: every
`specification/columns/<column>.md` has a "Column ID" section and a "Content Constraints" table (column
type, feature level, allows nulls, data type, value format) followed, for enumerated columns, by an
"Allowed values" table. Run once per FOCUS release; the committed JSON records the tag and commit it was
read from, so the rules are the specification's, not ours.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from scripts import REPO_ROOT

DEFAULT_OUT = REPO_ROOT / "scripts" / "cli" / "reports" / "data" / "focus_1_2_columns.json"
REPOSITORY = "https://github.com/FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec"
_CONSTRAINTS = {
    "column type": "column_type",
    "feature level": "feature_level",
    "allows nulls": "allows_nulls",
    "data type": "data_type",
    "value format": "value_format",
    "number range": "number_range",
}


def _git(spec: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={spec}", *args], check=True, capture_output=True, text=True
    ).stdout


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _is_rule(line: str) -> bool:
    return bool(re.fullmatch(r"\|[\s:|-]+\|?", line.strip()))


def _section(text: str, heading: str) -> list[str]:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip().lower() == f"## {heading}".lower():
            body = []
            for following in lines[index + 1 :]:
                if following.startswith("## "):
                    break
                body.append(following)
            return body
    raise ValueError(f"no '## {heading}' section")


def _value_format(text: str) -> str:
    # "[Numeric Format](#numericformat)" -> "Numeric Format"; "\<not specified>" -> "not specified"
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text).replace("\\<", "<")
    text = text.strip("<> ").replace("Allowed Values", "Allowed values")
    return "Key-Value Format" if text == "KeyValueFormat" else text


def parse_column(text: str) -> dict[str, Any]:
    """One column's definition from its specification page."""
    column_id = next(line.strip() for line in _section(text, "Column ID") if line.strip())
    display_name = next(line.strip() for line in _section(text, "Display Name") if line.strip())
    try:
        body = _section(text, "Content Constraints")
    except ValueError:
        body = _section(text, "Content constraints")
    column: dict[str, Any] = {"id": column_id, "display_name": display_name}
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for line in body:
        if line.strip().startswith("|"):
            if current is None:
                current = []
                tables.append(current)
            if not _is_rule(line):
                current.append(_cells(line))
        else:
            current = None
    for name, value in tables[0][1:]:
        key = _CONSTRAINTS.get(name.lower())
        if key is None:
            raise ValueError(f"{column_id}: unknown constraint {name!r}")
        column[key] = value
    column["allows_nulls"] = column["allows_nulls"].lower() == "true"
    column["value_format"] = _value_format(column["value_format"])
    if len(tables) > 1 and column["value_format"] != "Allowed values":
        # SkuPriceDetails: the keys FOCUS defines inside the JSON, not values of the column
        column["defined_keys"] = [row[0] for row in tables[1][1:]]
    elif len(tables) > 1:
        header, *rows = tables[1]
        if len(header) == 3:  # ServiceSubcategory: (category, subcategory, description)
            column["allowed_values"] = [row[1] for row in rows]
            column["allowed_parent_values"] = {row[1]: row[0] for row in rows}
        else:
            column["allowed_values"] = [row[0] for row in rows]
    return column


def extract(spec: Path, tag: str) -> dict[str, Any]:
    commit = _git(spec, "rev-parse", f"{tag}^{{commit}}").strip()
    paths = [
        path
        for path in _git(spec, "ls-tree", "--name-only", tag, "specification/columns/").split()
        if path.endswith(".md")
    ]
    columns = [parse_column(_git(spec, "show", f"{tag}:{path}")) for path in sorted(paths)]
    return {
        "specification": "FOCUS",
        "version": tag.removeprefix("v"),
        "source": {
            "repository": REPOSITORY,
            "tag": tag,
            "commit": commit,
            "paths": "specification/columns/*.md (Column ID, Display Name, Content Constraints, Allowed values)",
            "extracted_by": "python -m scripts.devtools.focus_spec",
        },
        # Dataset-wide rules of the same release, quoted from specification/attributes/*.md.
        "attributes": {
            "custom_column_prefix": "x_",
            "datetime_format": "YYYY-MM-DDTHH:mm:ssZ (UTC, ISO 8601 extended)",
            "null_handling": "NULL where no value can be given; never empty strings or placeholders",
            "currency_format": "three-letter ISO 4217 code for national currencies",
        },
        "columns": columns,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, required=True, help="git directory of a FOCUS_Spec clone")
    parser.add_argument("--tag", default="v1.2")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    document = extract(args.spec, args.tag)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(document['columns'])} columns of FOCUS {document['version']} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
