"""Build the Lambda package reproducibly: the same source tree always gives the same zip bytes.

`python -m scripts.devtools.build_lambda` zips lambda_src/cost_sentry into build/lambda/cost_sentry.zip.
Terraform's source_code_hash is a hash of these bytes, so any non-determinism (file order,
timestamps, permissions, the builder's umask) would show up as a spurious Lambda update on every plan.

The zip also carries the package's bytecode for the runtime's Python (``__pycache__/*.cpython-313.pyc``):
Lambda's /var/task is read-only, so a package without it is compiled again on every cold start (a
quarter of the handler's import time; ``make bench`` measures it). Bytecode is specific to a Python
minor version, so it is compiled by an interpreter of exactly that version (found on PATH, under pyenv,
or named by LAMBDA_BYTECODE_PYTHON); without one the zip ships source only and the build says why. The
files are hash-based and unchecked (PEP 552): no timestamps in the bytes, no source read to validate
them, and the zip always carries the pyc built from the source beside it.
"""

from __future__ import annotations

import argparse
import base64
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
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

# The Python of the functions' runtime: modules/gateway's lambda_runtime default (python3.13);
# tests/devtools/test_build_lambda.py checks the two agree. Another runtime simply ignores this bytecode
# (its cache tag differs) and compiles in memory, as without it.
RUNTIME_PYTHON = "3.13"
BYTECODE_PYTHON_ENV = "LAMBDA_BYTECODE_PYTHON"

# Run by the target interpreter: compile each source to an unchecked hash-based pyc. The recorded file
# name is the archive path (cost_sentry/...), which Lambda's sys.path (/var/task) resolves in tracebacks.
_COMPILE = """
import importlib.util, json, py_compile, sys
jobs = json.load(sys.stdin)
for source, archive_name, target in jobs:
    py_compile.compile(source, cfile=target, dfile=archive_name, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
print(sys.implementation.cache_tag)
"""


@dataclass(frozen=True)
class BytecodePython:
    """An interpreter that compiles the package's bytecode, and the minor version it was checked to be."""

    executable: str
    version: str


def running_python() -> BytecodePython:
    """The interpreter running this code (the benchmarks compare the zip with and without bytecode on it)."""
    return BytecodePython(sys.executable, f"{sys.version_info.major}.{sys.version_info.minor}")


def find_bytecode_python(version: str = RUNTIME_PYTHON) -> tuple[BytecodePython | None, str]:
    """An interpreter of exactly ``version`` (e.g. "3.13"), or None and the reason none was found."""
    named = os.environ.get(BYTECODE_PYTHON_ENV)
    candidates = [named] if named else []
    candidates += [shutil.which(f"python{version}") or "", sys.executable]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    for candidate in filter(None, candidates):
        if _minor_version(candidate) == version:
            return BytecodePython(candidate, version), ""
    where = f"{BYTECODE_PYTHON_ENV}, PATH (python{version}) or ~/.pyenv/versions"
    return None, f"no Python {version} interpreter in {where}"


def _minor_version(executable: str) -> str | None:
    try:
        result = subprocess.run(
            [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


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


def compile_bytecode(
    files: Iterable[Path], source_dir: Path, python: BytecodePython, work_dir: Path
) -> dict[str, Path]:
    """Archive name of each ``__pycache__`` file -> the compiled file in ``work_dir``."""
    sources = [path for path in files if path.suffix == ".py"]
    jobs = []
    for number, path in enumerate(sources):
        archive_name = _archive_name(path, source_dir)
        jobs.append([str(path), archive_name, str(work_dir / f"{number}.pyc")])
    result = subprocess.run(
        [python.executable, "-I", "-c", _COMPILE],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ValueError(f"compiling the bytecode with {python.executable} failed: {result.stderr.strip()}")
    cache_tag = result.stdout.strip()
    compiled = {}
    for _, archive_name, target in jobs:
        folder, _, name = archive_name.rpartition("/")
        compiled[f"{folder}/__pycache__/{name[: -len('.py')]}.{cache_tag}.pyc"] = Path(target)
    return compiled


def _archive_name(path: Path, source_dir: Path) -> str:
    return f"{source_dir.name}/{path.relative_to(source_dir).as_posix()}"


def write_zip(
    files: Iterable[Path], source_dir: Path, output: Path, python: BytecodePython | None = None
) -> None:
    """Write the entries under the package's own name so the handler path is cost_sentry.handlers...."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # A private temporary name: two builds at once (make lambda-zip next to validate-all) must not
    # rename each other's half-written file.
    handle, temporary_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        with tempfile.TemporaryDirectory(prefix="cost-sentry-pyc-") as work_dir:
            files = list(files)
            entries = {_archive_name(path, source_dir): path for path in files}
            if python is not None:
                entries.update(compile_bytecode(files, source_dir, python, Path(work_dir)))
            _write_entries(entries, temporary)
        # Replace atomically so Terraform never hashes a half-written archive.
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)


def _write_entries(entries: dict[str, Path], archive: Path) -> None:
    """``entries``: archive name -> file; written sorted by archive name (the pyc beside their sources)."""
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        for arcname in sorted(entries):
            path = entries[arcname]
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


def build(
    source_dir: Path = DEFAULT_SOURCE, output: Path = DEFAULT_OUTPUT, python: BytecodePython | None = None
) -> Path:
    """The zip of ``source_dir``, with the bytecode ``python`` compiles when one is given."""
    files = package_files(source_dir)
    if not files:
        raise ValueError(f"nothing to package in {source_dir}")
    write_zip(files, source_dir, output, python)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="package directory to zip")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="zip file to write")
    parser.add_argument(
        "--python-version",
        default=RUNTIME_PYTHON,
        help=f"the runtime's Python, whose bytecode the zip carries (default {RUNTIME_PYTHON})",
    )
    parser.add_argument("--no-bytecode", action="store_true", help="ship the source only")
    args = parser.parse_args(argv)
    python = None
    if not args.no_bytecode:
        python, reason = find_bytecode_python(args.python_version)
        if python is None:
            print(
                f"build_lambda: shipping source only, no bytecode: {reason} (a cold start then compiles "
                f"every module; the zip's hash differs from a build with bytecode)",
                file=sys.stderr,
            )
    try:
        archive = build(args.source, args.output, python)
    except (FileNotFoundError, ValueError) as error:
        print(f"build_lambda: {error}", file=sys.stderr)
        return 2
    with_bytecode = f"bytecode for Python {python.version}" if python else "no bytecode"
    print(f"{archive} sha256(base64)={source_code_hash(archive)} ({with_bytecode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
