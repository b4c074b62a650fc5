"""The Lambda zip is reproducible: the same source tree gives the same bytes, whatever the filesystem says."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts.devtools import build_lambda


def make_source(root: Path) -> Path:
    package = root / "cost_sentry"
    (package / "handlers").mkdir(parents=True)
    (package / "data").mkdir()
    (package / "__init__.py").write_text("")
    (package / "handlers" / "__init__.py").write_text("")
    (package / "handlers" / "gateway.py").write_text("def handler(event, context):\n    return {}\n")
    (package / "data" / "models.json").write_text('{"models": {}}\n')
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\x00compiled")
    (package / "handlers" / "gateway.pyc").write_bytes(b"\x00compiled")
    (package / "tests").mkdir()
    (package / "tests" / "test_gateway.py").write_text("def test_x():\n    pass\n")
    return package


def test_same_source_gives_identical_bytes_despite_mtimes_and_modes(tmp_path: Path) -> None:
    # Given two copies of one source tree with different timestamps and permissions
    first = make_source(tmp_path / "a")
    second = make_source(tmp_path / "b")
    for path in second.rglob("*"):
        os.utime(path, (2_000_000_000, 2_000_000_000))
        if path.is_file():
            path.chmod(0o600)

    # When both are built
    zip_a = build_lambda.build(first, tmp_path / "out" / "a.zip")
    zip_b = build_lambda.build(second, tmp_path / "out" / "b.zip")

    # Then the archives are byte for byte the same, and so is the hash Terraform will see
    assert zip_a.read_bytes() == zip_b.read_bytes()
    assert build_lambda.source_code_hash(zip_a) == build_lambda.source_code_hash(zip_b)


def test_entries_are_sorted_fixed_and_exclude_caches_and_tests(tmp_path: Path) -> None:
    archive = build_lambda.build(make_source(tmp_path / "src"), tmp_path / "pkg.zip")

    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
    names = [info.filename for info in infos]

    assert names == [
        "cost_sentry/__init__.py",
        "cost_sentry/data/models.json",
        "cost_sentry/handlers/__init__.py",
        "cost_sentry/handlers/gateway.py",
    ]
    assert {info.date_time for info in infos} == {build_lambda.FIXED_DATE_TIME}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert {info.create_system for info in infos} == {3}


def test_a_content_change_changes_the_hash(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    before = build_lambda.source_code_hash(build_lambda.build(source, tmp_path / "before.zip"))
    (source / "handlers" / "gateway.py").write_text("def handler(event, context):\n    return {'v': 2}\n")
    after = build_lambda.source_code_hash(build_lambda.build(source, tmp_path / "after.zip"))

    assert before != after


def test_rebuilding_in_place_is_stable(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    output = tmp_path / "build" / "lambda" / "cost_sentry.zip"
    first = build_lambda.build(source, output).read_bytes()
    second = build_lambda.build(source, output).read_bytes()

    assert first == second
    assert sorted(path.name for path in output.parent.iterdir()) == ["cost_sentry.zip"]  # no temporaries left


def test_concurrent_builds_of_one_output_do_not_collide(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    source = make_source(tmp_path / "src")
    output = tmp_path / "build" / "cost_sentry.zip"
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: build_lambda.build(source, output), range(8)))

    assert output.read_bytes() == build_lambda.build(source, tmp_path / "single.zip").read_bytes()
    assert sorted(path.name for path in output.parent.iterdir()) == ["cost_sentry.zip"]


def test_missing_source_fails_clearly_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "pkg.zip"

    exit_code = build_lambda.main(["--source", str(tmp_path / "nope"), "--output", str(output)])

    assert exit_code == 2
    assert "not found" in capsys.readouterr().err
    assert not output.exists()


def test_the_real_package_builds_with_its_model_catalog(tmp_path: Path) -> None:
    archive = build_lambda.build(build_lambda.DEFAULT_SOURCE, tmp_path / "real.zip")

    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert "cost_sentry/data/models.json" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


THIS_PYTHON = build_lambda.running_python()


def test_bytecode_is_shipped_beside_each_source_and_is_reproducible(tmp_path: Path) -> None:
    # Given the package built twice with bytecode, from copies whose timestamps differ
    first, second = make_source(tmp_path / "a"), make_source(tmp_path / "b")
    for path in second.rglob("*"):
        os.utime(path, (2_000_000_000, 2_000_000_000))
    zip_a = build_lambda.build(first, tmp_path / "a.zip", THIS_PYTHON)
    zip_b = build_lambda.build(second, tmp_path / "b.zip", THIS_PYTHON)

    # Then each module has its pyc under the interpreter's cache tag (no stray ones), and the bytes agree
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(zip_a) as zf:
        names = zf.namelist()
    assert [name for name in names if name.endswith(".pyc")] == [
        f"cost_sentry/__pycache__/__init__.{tag}.pyc",
        f"cost_sentry/handlers/__pycache__/__init__.{tag}.pyc",
        f"cost_sentry/handlers/__pycache__/gateway.{tag}.pyc",
    ]
    assert zip_a.read_bytes() == zip_b.read_bytes()


def test_the_shipped_bytecode_is_what_python_loads_from_a_read_only_package(tmp_path: Path) -> None:
    # Given the real package with bytecode, unpacked as Lambda does, where nothing may write a cache
    archive = build_lambda.build(build_lambda.DEFAULT_SOURCE, tmp_path / "real.zip", THIS_PYTHON)
    task = tmp_path / "task"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(task)

    # When a module is imported verbosely
    result = subprocess.run(
        [sys.executable, "-v", "-c", "import cost_sentry.core.money"],
        env={**os.environ, "PYTHONPATH": str(task), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )

    # Then it came from the shipped pyc (hash-based, unchecked), not compiled from source
    pyc = task / "cost_sentry" / "core" / "__pycache__" / f"money.{sys.implementation.cache_tag}.pyc"
    assert f"code object from '{pyc}'" in result.stderr
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01  # PEP 552 flags: hash-based, unchecked


def test_no_interpreter_of_the_runtime_version_means_source_only_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a Python version no interpreter anywhere the build looks has
    monkeypatch.delenv(build_lambda.BYTECODE_PYTHON_ENV, raising=False)
    output = tmp_path / "pkg.zip"

    exit_code = build_lambda.main(
        ["--source", str(make_source(tmp_path / "src")), "--output", str(output), "--python-version", "0.1"]
    )

    assert exit_code == 0
    assert "shipping source only, no bytecode: no Python 0.1 interpreter" in capsys.readouterr().err
    with zipfile.ZipFile(output) as zf:
        assert not [name for name in zf.namelist() if name.endswith(".pyc")]


def test_the_bytecode_targets_the_gateway_module_runtime() -> None:
    import hcl2

    variables = (build_lambda.REPO_ROOT / "modules" / "gateway" / "variables.tf").read_text()
    # python-hcl2 keeps the quotes of block labels and string values
    runtime = next(
        v['"lambda_runtime"'] for v in hcl2.loads(variables)["variable"] if '"lambda_runtime"' in v
    )
    assert runtime["default"].strip('"') == f"python{build_lambda.RUNTIME_PYTHON}"
