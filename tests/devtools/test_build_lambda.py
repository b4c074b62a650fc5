"""The Lambda zip is reproducible: the same source tree gives the same bytes, whatever the filesystem says."""

from __future__ import annotations

import os
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
