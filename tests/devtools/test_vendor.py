"""The vendored packages (lambda_src/cost_sentry/_vendor) are their wheels' files, unchanged."""

from __future__ import annotations

import base64
import csv
import hashlib
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "lambda_src" / "cost_sentry" / "_vendor"


def test_every_vendored_pyjwt_file_matches_the_wheels_record() -> None:
    rows = list(csv.reader((VENDOR / "pyjwt-2.15.1.RECORD").read_text().splitlines()))
    shipped = {row[0]: row[1] for row in rows if row[0].startswith("jwt/")}
    assert shipped, "the RECORD lists the jwt package"
    for name, digest in shipped.items():
        algorithm, _, expected = digest.partition("=")
        actual = base64.urlsafe_b64encode(hashlib.new(algorithm, (VENDOR / name).read_bytes()).digest())
        assert actual.decode().rstrip("=") == expected, name
    on_disk = {
        path.relative_to(VENDOR).as_posix()
        for path in (VENDOR / "jwt").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert on_disk - set(shipped) == {"jwt/LICENSE"}  # PyJWT's MIT licence, from the wheel's dist-info


def test_the_lambda_zip_ships_the_vendored_package(tmp_path: Path) -> None:
    import zipfile

    from scripts.devtools.build_lambda import DEFAULT_SOURCE, build

    archive = build(DEFAULT_SOURCE, tmp_path / "lambda.zip")
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"cost_sentry/_vendor/jwt/api_jwt.py", "cost_sentry/_vendor/jwt/LICENSE"} <= names
