"""Build the Lambda package reproducibly: the same source tree always gives the same zip bytes.

`python -m scripts.devtools.build_lambda` zips lambda_src/cost_sentry into build/lambda/cost_sentry.zip.
Terraform's source_code_hash is a hash of these bytes, so any non-determinism (file order,
timestamps, permissions, the builder's umask) would show up as a spurious Lambda update on every plan.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from scripts import REPO_ROOT

DEFAULT_SOURCE = REPO_ROOT / "lambda_src" / "cost_sentry"
DEFAULT_OUTPUT = REPO_ROOT / "build" / "lambda" / "cost_sentry.zip"

# The earliest timestamp a zip entry can carry: fixed so the build date never enters the bytes.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--: Lambda only needs to read the code
# Scripts Lambda executes (the streaming runtime's AWS_LAMBDA_EXEC_WRAPPER): rwxr-xr-x.
EXECUTABLE_MODE = 0o100755
EXECUTABLE_SUFFIXES = (".sh",)
ZIP_UNIX_SYSTEM = 3
COMPRESS_LEVEL = 9

EXCLUDED_DIR_NAMES = frozenset(
    {"__pycache__", "tests", "test", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def package_files(source_dir: Path) -> list[Path]:
    """Files to ship, sorted by their archive path so the entry order never depends on the filesystem."""
    if not source_dir.is_dir():
        raise FileNotFoundError(f"Lambda source directory not found: {source_dir}")
    files = [
        path
        for path in source_dir.rglob("*")
        if path.is_file()
        and not any(part in EXCLUDED_DIR_NAMES for part in path.relative_to(source_dir).parts[:-1])
        and not path.name.endswith(EXCLUDED_SUFFIXES)
        and not path.name.startswith("test_")
    ]
    return sorted(files, key=lambda path: path.relative_to(source_dir).as_posix())


def write_zip(files: Iterable[Path], source_dir: Path, output: Path) -> None:
    """Write the entries under the package's own name so the handler path is cost_sentry.handlers...."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # A private temporary name: two builds at once (make lambda-zip next to validate-all) must not
    # rename each other's half-written file.
    handle, temporary_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        _write_entries(files, source_dir, temporary)
        # Replace atomically so Terraform never hashes a half-written archive.
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)


def _write_entries(files: Iterable[Path], source_dir: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        for path in files:
            arcname = f"{source_dir.name}/{path.relative_to(source_dir).as_posix()}"
            info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = ZIP_UNIX_SYSTEM
            mode = EXECUTABLE_MODE if path.name.endswith(EXECUTABLE_SUFFIXES) else FILE_MODE
            info.external_attr = mode << 16
            zf.writestr(
                info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
            )


def source_code_hash(archive: Path) -> str:
    """The value Terraform's filebase64sha256() computes for the archive."""
    return base64.b64encode(hashlib.sha256(archive.read_bytes()).digest()).decode("ascii")


def build(source_dir: Path = DEFAULT_SOURCE, output: Path = DEFAULT_OUTPUT) -> Path:
    files = package_files(source_dir)
    if not files:
        raise ValueError(f"nothing to package in {source_dir}")
    write_zip(files, source_dir, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="package directory to zip")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="zip file to write")
    args = parser.parse_args(argv)
    try:
        archive = build(args.source, args.output)
    except (FileNotFoundError, ValueError) as error:
        print(f"build_lambda: {error}", file=sys.stderr)
        return 2
    print(f"{archive} sha256(base64)={source_code_hash(archive)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
