"""Build the gateway's container image without a container engine: an OCI image layout, reproducibly.

`make image` (``python -m scripts.devtools.build_image``) writes build/image/:

- ``app-layer.tar.gz``: one layer holding the Lambda package's files (the same selection as the zip,
  scripts.devtools.build_lambda.package_files) under /app/cost_sentry and the runtime dependencies
  (requirements-image.txt: granian, boto3 and their closure, wheels for linux/arm64 and CPython 3.13,
  checked against their hashes) unpacked under /app/site-packages. Sorted entries, fixed timestamps,
  owner root and read-only modes: the same sources always give the same bytes, and the non-root user
  the task runs as can change none of the code.
- ``oci/``: an OCI image layout (index.json, blobs/sha256/...) and ``cost-sentry-gateway.oci.tar``, the
  same layout as one tarball (what skopeo calls oci-archive). Its config sets the entry point (granian
  serving cost_sentry.handlers.asgi:app on 8080), the user 10001:10001, the environment and arm64.

The base (Python 3.13 on Debian, ``BASE_IMAGE``, pinned by digest) cannot be pulled on a machine that
reaches no container registry, so by default the layout holds the app layer alone, annotated with the
base's name and digest (``org.opencontainers.image.base.*``). Given the base as an OCI layout
(``--base-layout``, e.g. from ``skopeo copy docker://<BASE_IMAGE> oci:build/image/base:base``), the
image is complete: the base's layers, then the app layer, the base's environment kept. The README
("The container image") says what the operator runs to push it to ECR; image/Dockerfile builds the
same image with a container engine, for CI.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scripts import REPO_ROOT
from scripts.devtools.build_lambda import DEFAULT_SOURCE, package_files

REQUIREMENTS = REPO_ROOT / "requirements-image.txt"
DEFAULT_OUTPUT = REPO_ROOT / "build" / "image"
IMAGE_NAME = "cost-sentry-gateway"

# Not verifiable here (no registry): check with `skopeo inspect --raw docker://<BASE_IMAGE>` before a
# release, and keep CPython's minor version in step with PYTHON_VERSION (the wheels' ABI).
BASE_IMAGE = (
    "public.ecr.aws/docker/library/python:3.13-slim-bookworm"
    "@sha256:01f42367a0a94ad4bc17111776fd66e3500c1d87c15bbd6055b7371d39c124fb"
)
PYTHON_VERSION = "3.13"
PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")

APP_DIR = "app"
USER = "10001:10001"
PORT = 8080
# The contract with the application (lambda_src/cost_sentry/handlers/asgi.py exposes `app`); workers come
# from GRANIAN_WORKERS, which the task definition sets from its vCPUs. image/Dockerfile repeats this line
# (a test keeps the two equal).
# Binding every interface is the point: the load balancer reaches the task on its VPC address.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
ENTRYPOINT = [
    "python", "-m", "granian", "--interface", "asgi", "--host", ALL_INTERFACES, "--port", str(PORT),
    "--http", "auto", "--no-ws", "cost_sentry.handlers.asgi:app",
]  # fmt: skip
ENVIRONMENT = {
    "PYTHONPATH": f"/{APP_DIR}:/{APP_DIR}/site-packages",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
}

# 2000-01-01: a fixed time for every entry, so the build date never enters the bytes.
FIXED_MTIME = 946684800
DIR_MODE, FILE_MODE, EXECUTABLE_MODE = 0o755, 0o644, 0o755
GZIP_LEVEL = 6

MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"


class ImageBuildError(RuntimeError):
    """The image cannot be built as asked; the message says what to do."""


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self, **extra: object) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


def _canonical(document: object) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


# -- The wheels ---------------------------------------------------------------------------------------


def download_wheels(cache: Path, requirements: Path = REQUIREMENTS) -> list[Path]:
    """The pinned wheels for linux/arm64, from the cache when they are there, else from the index."""
    cache.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes"]
    base += ["--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION]
    base += [f"--platform={platform}" for platform in PLATFORMS]
    base += ["--dest", str(cache), "--requirement", str(requirements)]
    cached = subprocess.run([*base, "--no-index", "--find-links", str(cache)], capture_output=True, text=True)
    if cached.returncode != 0:
        online = subprocess.run(base, capture_output=True, text=True)
        if online.returncode != 0:
            raise ImageBuildError(
                f"pip could not download the image's wheels (requirements-image.txt) for linux/arm64:\n{online.stderr}"
            )
    wanted = _pinned_names(requirements)
    wheels = sorted(p for p in cache.glob("*.whl") if _wheel_key(p) in wanted)
    missing = wanted - {_wheel_key(p) for p in wheels}
    if missing:
        raise ImageBuildError(f"no wheel in {cache} for {', '.join(sorted(missing))}")
    return wheels


def _normalize(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _pinned_names(requirements: Path) -> set[tuple[str, str]]:
    pins = set()
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip().rstrip("\\").strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins.add((_normalize(name), version.split()[0]))
    return pins


def _wheel_key(wheel: Path) -> tuple[str, str]:
    name, version = wheel.name.split("-")[:2]
    return _normalize(name), version


# -- The layer ----------------------------------------------------------------------------------------


def layer_files(source_dir: Path, wheels: list[Path]) -> Iterator[tuple[str, bytes, int]]:
    """(path in the image, content, mode) of every file of the app layer."""
    for path in package_files(source_dir):
        mode = EXECUTABLE_MODE if path.suffix == ".sh" else FILE_MODE
        yield f"{APP_DIR}/cost_sentry/{path.relative_to(source_dir).as_posix()}", path.read_bytes(), mode
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                target = _site_packages_path(info.filename)
                if target is None:
                    continue
                mode = EXECUTABLE_MODE if ".so" in Path(target).suffixes else FILE_MODE
                yield f"{APP_DIR}/site-packages/{target}", archive.read(info), mode


def _site_packages_path(member: str) -> str | None:
    """Where a wheel member goes: its own path, or purelib/platlib of its .data folder; scripts and
    headers are left out (the entry point runs `python -m granian`)."""
    first, _, rest = member.partition("/")
    if first.endswith(".data"):
        kind, _, inner = rest.partition("/")
        return inner if kind in {"purelib", "platlib"} and inner else None
    if member.endswith((".pyc", ".pyo")) or "/__pycache__/" in member:
        return None
    return member


def build_layer(source_dir: Path, wheels: list[Path]) -> tuple[bytes, bytes]:
    """The layer as (uncompressed tar, gzip): sorted entries, directories included, fixed metadata."""
    files = sorted(layer_files(source_dir, wheels), key=lambda entry: entry[0])
    paths = [entry[0] for entry in files]
    if len(set(paths)) != len(paths):
        duplicates = sorted({p for p in paths if paths.count(p) > 1})
        raise ImageBuildError(f"two sources write the same path in the image: {duplicates[:5]}")
    directories = sorted({str(Path(p).parents[i]) for p in paths for i in range(len(Path(p).parents) - 1)})
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for directory in directories:
            tar.addfile(_tar_info(directory + "/", tarfile.DIRTYPE, DIR_MODE, 0))
        for path, data, mode in files:
            tar.addfile(_tar_info(path, tarfile.REGTYPE, mode, len(data)), io.BytesIO(data))
    uncompressed = raw.getvalue()
    compressed = io.BytesIO()
    # No file name and a zero time in the gzip header: the same tar always gives the same bytes.
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0, compresslevel=GZIP_LEVEL) as gz:
        gz.write(uncompressed)
    return uncompressed, compressed.getvalue()


def _tar_info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


# -- The image ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Base:
    """The base image as read from an OCI layout: its config and its layers' blobs."""

    config: dict[str, object]
    layers: list[dict[str, object]]
    blobs: dict[str, bytes]


def read_base_layout(layout: Path) -> Base:
    """The linux/arm64 image of an OCI layout (an index of platforms, or one manifest)."""

    def blob(digest: str) -> bytes:
        path = layout / "blobs" / Path(*digest.split(":", 1))
        if not path.is_file():
            raise ImageBuildError(
                f"{layout} lacks blob {digest}: is it a complete OCI layout (skopeo copy ... oci:DIR)?"
            )
        return path.read_bytes()

    if not (layout / "index.json").is_file():
        raise ImageBuildError(
            f"{layout} is not an OCI layout (no index.json); "
            f"make one with skopeo copy docker://{BASE_IMAGE} oci:{layout}:base"
        )
    descriptors = json.loads((layout / "index.json").read_text(encoding="utf-8"))["manifests"]
    manifest: dict[str, object] | None = None
    while descriptors:
        descriptor = descriptors.pop(0)
        document = json.loads(blob(str(descriptor["digest"])))
        if descriptor.get("mediaType") in (
            MEDIA_INDEX,
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ):
            descriptors = [
                d for d in document["manifests"]
                if d.get("platform", {}).get("architecture") == "arm64" and d.get("platform", {}).get("os") == "linux"
            ]  # fmt: skip
            continue
        manifest = document
        break
    if manifest is None:
        raise ImageBuildError(f"{layout} holds no linux/arm64 image")
    config = json.loads(blob(str(manifest["config"]["digest"])))  # type: ignore[index]
    if config.get("architecture") != "arm64":
        raise ImageBuildError(f"the base in {layout} is {config.get('architecture')}, not arm64")
    layers = list(manifest["layers"])  # type: ignore[call-overload]
    return Base(
        config=config, layers=layers, blobs={str(d["digest"]): blob(str(d["digest"])) for d in layers}
    )


def image_config(diff_id: str, base: Base | None) -> Blob:
    """The config: the base's (environment, history, layers) with the app on top, or the app alone."""
    inherited = dict(base.config.get("config") or {}) if base else {}  # type: ignore[call-overload]
    inherited.pop("Cmd", None)  # the base's command (python3) would become granian's argument
    env = {key: value for key, _, value in (item.partition("=") for item in inherited.get("Env") or [])}
    env.update(ENVIRONMENT)
    history = list(base.config.get("history") or []) if base else []  # type: ignore[call-overload]
    base_diff_ids = list(base.config["rootfs"]["diff_ids"]) if base else []  # type: ignore[index]
    document = {
        "architecture": "arm64",
        "os": "linux",
        "created": "2000-01-01T00:00:00Z",
        "config": {
            **inherited,
            "User": USER,
            "Env": [f"{key}={value}" for key, value in env.items()],
            "Entrypoint": ENTRYPOINT,
            "WorkingDir": f"/{APP_DIR}",
            "ExposedPorts": {f"{PORT}/tcp": {}},
            "Labels": {
                "org.opencontainers.image.title": IMAGE_NAME,
                "org.opencontainers.image.base.name": BASE_IMAGE,
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [*base_diff_ids, diff_id]},
        "history": [
            *history,
            {"created": "2000-01-01T00:00:00Z", "created_by": "scripts/devtools/build_image.py: /app"},
        ],
    }
    return Blob(MEDIA_CONFIG, _canonical(document))


def write_layout(output: Path, layer: Blob, config: Blob, base: Base | None) -> Blob:
    """The OCI layout in output/oci and as output/<name>.oci.tar; returns the manifest."""
    name, digest = BASE_IMAGE.split("@")
    annotations = {"org.opencontainers.image.base.name": name, "org.opencontainers.image.base.digest": digest}
    manifest = Blob(
        MEDIA_MANIFEST,
        _canonical(
            {
                "schemaVersion": 2,
                "mediaType": MEDIA_MANIFEST,
                "config": config.descriptor(),
                "layers": [*(base.layers if base else []), layer.descriptor()],
                "annotations": annotations,
            }
        ),
    )
    tag = "latest" if base else "app-layer"
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [
            manifest.descriptor(
                platform={"architecture": "arm64", "os": "linux"},
                annotations={"org.opencontainers.image.ref.name": tag},
            )
        ],
    }
    files = {
        "oci-layout": _canonical({"imageLayoutVersion": "1.0.0"}),
        "index.json": _canonical(index),
        **{f"blobs/sha256/{b.digest.split(':')[1]}": b.data for b in (layer, config, manifest)},
        **({f"blobs/sha256/{d.split(':')[1]}": data for d, data in base.blobs.items()} if base else {}),
    }
    directory = output / "oci"
    shutil.rmtree(directory, ignore_errors=True)
    for relative, data in files.items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_bytes(data)
    with tarfile.open(output / f"{IMAGE_NAME}.oci.tar", mode="w", format=tarfile.GNU_FORMAT) as tar:
        for relative in sorted({str(Path(p).parent) for p in files if "/" in p} | {"blobs"}):
            tar.addfile(_tar_info(relative + "/", tarfile.DIRTYPE, DIR_MODE, 0))
        for relative in sorted(files):
            tar.addfile(
                _tar_info(relative, tarfile.REGTYPE, FILE_MODE, len(files[relative])),
                io.BytesIO(files[relative]),
            )
    return manifest


def build(
    output: Path = DEFAULT_OUTPUT,
    source_dir: Path = DEFAULT_SOURCE,
    wheel_cache: Path | None = None,
    base_layout: Path | None = None,
) -> Blob:
    wheels = download_wheels(wheel_cache or output / "wheels")
    uncompressed, compressed = build_layer(source_dir, wheels)
    output.mkdir(parents=True, exist_ok=True)
    (output / "app-layer.tar.gz").write_bytes(compressed)
    layer = Blob(MEDIA_LAYER, compressed)
    base = read_base_layout(base_layout) if base_layout else None
    config = image_config("sha256:" + hashlib.sha256(uncompressed).hexdigest(), base)
    return write_layout(output, layer, config, base)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--base-layout", type=Path, help=f"OCI layout of the base ({BASE_IMAGE})")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.output, base_layout=args.base_layout)
    except ImageBuildError as error:
        print(f"make image: {error}", file=sys.stderr)
        return 1
    layer = args.output / "app-layer.tar.gz"
    print(f"app layer   {os.path.relpath(layer)} ({layer.stat().st_size:,} bytes)")
    archive = args.output / f"{IMAGE_NAME}.oci.tar"
    print(f"OCI layout  {os.path.relpath(args.output / 'oci')} and {os.path.relpath(archive)}")
    print(f"manifest    {manifest.digest}")
    if args.base_layout is None:
        print(f"base        {BASE_IMAGE} (not included: give --base-layout, README 'The container image')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
