"""`make image`: the gateway's OCI image without a container engine. The app layer holds the Lambda
package's code and the arm64 runtime, the config runs granian on the ASGI app as a non-root user, the
layout is consistent and reproducible, a base layout goes underneath, and image/Dockerfile agrees."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from scripts import REPO_ROOT
from scripts.devtools import build_image
from scripts.devtools.build_lambda import DEFAULT_SOURCE, package_files

# Shared with `make image`: the pinned wheels are downloaded (and hash-checked) once.
WHEEL_CACHE = REPO_ROOT / "build" / "image" / "wheels"

pytestmark = pytest.mark.slow


def read_layout(layout: Path) -> tuple[dict, dict, dict]:
    index = json.loads((layout / "index.json").read_text())
    blob = lambda digest: (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()  # noqa: E731
    manifest = json.loads(blob(index["manifests"][0]["digest"]))
    config = json.loads(blob(manifest["config"]["digest"]))
    return index, manifest, config


def layer_members(output: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(output / "app-layer.tar.gz", "r:gz") as tar:
        return {member.name.rstrip("/"): member for member in tar.getmembers()}


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("image")
    build_image.build(output, wheel_cache=WHEEL_CACHE)
    return output


def test_the_layer_holds_the_package_and_the_arm64_runtime(image: Path) -> None:
    members = layer_members(image)

    # Every file of the Lambda package, under /app/cost_sentry
    shipped = {
        f"app/cost_sentry/{p.relative_to(DEFAULT_SOURCE).as_posix()}" for p in package_files(DEFAULT_SOURCE)
    }
    assert shipped <= set(members)
    assert "app/cost_sentry/handlers/gateway.py" in members and "app/cost_sentry/data/models.json" in members
    # The runtime the container has no other source for: granian (built for arm64, CPython 3.13), boto3
    native = members["app/site-packages/granian/_granian.cpython-313-aarch64-linux-gnu.so"]
    assert (
        "app/site-packages/boto3/__init__.py" in members
        and "app/site-packages/botocore/__init__.py" in members
    )
    assert "app/site-packages/click/__init__.py" in members
    with tarfile.open(image / "app-layer.tar.gz", "r:gz") as tar:
        elf = tar.extractfile(native.name).read(20)  # type: ignore[union-attr]
    assert elf[:4] == b"\x7fELF" and int.from_bytes(elf[18:20], "little") == 183  # EM_AARCH64

    # Nothing outside /app, no bytecode, no tests; owned by root and writable by no one else
    assert all(name == "app" or name.startswith("app/") for name in members)
    assert not [n for n in members if n.endswith(".pyc") or "__pycache__" in n or "/tests/" in n]
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}
    assert not [m.name for m in members.values() if m.mode & 0o022]


def test_the_config_runs_granian_on_the_asgi_app_as_a_non_root_user(image: Path) -> None:
    index, manifest, config = read_layout(image / "oci")

    assert config["architecture"] == "arm64" and config["os"] == "linux"
    assert config["config"]["Entrypoint"] == [
        "python", "-m", "granian", "--interface", "asgi", "--host", "0.0.0.0", "--port", "8080",
        "--http", "auto", "--no-ws", "cost_sentry.handlers.asgi:app",
    ]  # fmt: skip
    assert config["config"]["User"] == "10001:10001"
    assert "PYTHONPATH=/app:/app/site-packages" in config["config"]["Env"]
    assert config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    # Without a base layout the image is the app layer alone, naming the base it goes on
    assert len(manifest["layers"]) == 1
    assert manifest["annotations"]["org.opencontainers.image.base.digest"].startswith("sha256:")
    assert index["manifests"][0]["platform"] == {"architecture": "arm64", "os": "linux"}


def test_the_layout_and_its_tarball_are_consistent(image: Path) -> None:
    layout = image / "oci"
    _, manifest, config = read_layout(layout)

    for descriptor in [manifest["config"], *manifest["layers"]]:
        data = (layout / "blobs" / "sha256" / descriptor["digest"].split(":")[1]).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == descriptor["digest"]
        assert len(data) == descriptor["size"]
    layer = (image / "app-layer.tar.gz").read_bytes()
    assert manifest["layers"][0]["digest"] == "sha256:" + hashlib.sha256(layer).hexdigest()
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]

    with tarfile.open(image / "cost-sentry-gateway.oci.tar") as tar:
        names = set(tar.getnames())
    on_disk = {p.relative_to(layout).as_posix() for p in layout.rglob("*") if p.is_file()}
    assert on_disk <= names and "oci-layout" in names and "index.json" in names


def test_two_builds_give_the_same_bytes(image: Path, tmp_path: Path) -> None:
    again = build_image.build(tmp_path, wheel_cache=WHEEL_CACHE)

    assert (tmp_path / "app-layer.tar.gz").read_bytes() == (image / "app-layer.tar.gz").read_bytes()
    assert (tmp_path / "cost-sentry-gateway.oci.tar").read_bytes() == (
        image / "cost-sentry-gateway.oci.tar"
    ).read_bytes()
    assert again.digest == json.loads((image / "oci" / "index.json").read_text())["manifests"][0]["digest"]


def write_base_layout(root: Path, architecture: str = "arm64") -> tuple[Path, str]:
    """A minimal base as skopeo writes it: an index of platforms, each a manifest, config and layer."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("usr/local/bin/python3")
        payload = b"#!/bin/sh\n"
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    layer = {"mediaType": build_image.MEDIA_LAYER, **put(gzip.compress(raw.getvalue()))}
    manifests = []
    for arch in ["amd64", architecture] if architecture != "amd64" else ["amd64"]:
        config = {
            "architecture": arch,
            "os": "linux",
            "config": {"Env": ["PATH=/usr/local/bin:/usr/bin", "LANG=C.UTF-8"], "Cmd": ["python3"]},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()],
            },
            "history": [{"created_by": "base"}],
        }
        manifest = {
            "schemaVersion": 2,
            "mediaType": build_image.MEDIA_MANIFEST,
            "config": {"mediaType": build_image.MEDIA_CONFIG, **put(json.dumps(config).encode())},
            "layers": [layer],
        }
        manifests.append(
            {
                "mediaType": build_image.MEDIA_MANIFEST,
                **put(json.dumps(manifest).encode()),
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    index = {"schemaVersion": 2, "mediaType": build_image.MEDIA_INDEX, "manifests": manifests}
    top = {"mediaType": build_image.MEDIA_INDEX, **put(json.dumps(index).encode())}
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return root, layer["digest"]


def test_on_a_base_layout_the_image_is_the_base_then_the_app(tmp_path: Path) -> None:
    base, base_layer = write_base_layout(tmp_path / "base")

    build_image.build(tmp_path / "out", wheel_cache=WHEEL_CACHE, base_layout=base)

    _, manifest, config = read_layout(tmp_path / "out" / "oci")
    assert [layer["digest"] for layer in manifest["layers"]][:1] == [base_layer] and len(
        manifest["layers"]
    ) == 2
    assert len(config["rootfs"]["diff_ids"]) == 2
    assert (
        "PATH=/usr/local/bin:/usr/bin" in config["config"]["Env"]
        and "LANG=C.UTF-8" in config["config"]["Env"]
    )
    assert "Cmd" not in config["config"]  # the base's python3 would become granian's argument
    assert config["config"]["Entrypoint"][:3] == ["python", "-m", "granian"]
    # Every blob the manifest names is in the layout (the base's layer copied in)
    for descriptor in manifest["layers"]:
        assert (tmp_path / "out" / "oci" / "blobs" / "sha256" / descriptor["digest"].split(":")[1]).is_file()


def test_a_base_without_an_arm64_image_is_refused(tmp_path: Path) -> None:
    base, _ = write_base_layout(tmp_path / "base", architecture="amd64")

    with pytest.raises(build_image.ImageBuildError, match="no linux/arm64 image"):
        build_image.build(tmp_path / "out", wheel_cache=WHEEL_CACHE, base_layout=base)


def test_a_folder_that_is_not_a_layout_is_refused_with_the_command_that_makes_one(tmp_path: Path) -> None:
    with pytest.raises(build_image.ImageBuildError, match="skopeo copy docker://"):
        build_image.build(tmp_path / "out", wheel_cache=WHEEL_CACHE, base_layout=tmp_path)


def test_the_dockerfile_builds_the_same_image() -> None:
    dockerfile = (REPO_ROOT / "image" / "Dockerfile").read_text()

    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", dockerfile, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert entrypoint == build_image.ENTRYPOINT
    assert f"ARG BASE_IMAGE={build_image.BASE_IMAGE}\n" in dockerfile
    assert f"USER {build_image.USER}\n" in dockerfile
    assert "--require-hashes" in dockerfile and "requirements-image.txt" in dockerfile
