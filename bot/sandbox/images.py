"""Build the sandbox images from `sandbox_images/`, locally, with no container registry."""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image

from bot.errors import ConfigError, ImageBuildError

log = logging.getLogger(__name__)

BUILDER_VERSION = "1"
"""Bump when the build recipe below changes, so every image is rebuilt."""
HASH_LABEL = "patchbot.image.hash"
NAME_LABEL = "patchbot.image"
SANDBOX_UID = 1000
APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
IMAGE_ENV = {
    "PATH": "/env/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/tmp/home",
}
# Run on the host against the new root filesystem ($1): the sandbox user, writable mount
# points, and no package caches.
_CUSTOMIZE = (
    'mkdir -p "$1/workspace" "$1/env" && chmod 1777 "$1/workspace" "$1/env"',
    f'echo "sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:Patchbot sandbox:/tmp/home:/bin/bash"'
    ' >> "$1/etc/passwd"',
    f'echo "sandbox:x:{SANDBOX_UID}:" >> "$1/etc/group"',
    'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*',
)
_SLIM = ("path-exclude=/usr/share/man/*", "path-exclude=/usr/share/locale/*")


def default_images_dir() -> Path:
    """`PATCHBOT_IMAGES_DIR`, else `sandbox_images/` beside the `bot` package."""
    configured = os.environ.get("PATCHBOT_IMAGES_DIR")
    return (
        Path(configured) if configured else Path(__file__).resolve().parents[2] / "sandbox_images"
    )


def image_tag(name: str) -> str:
    return f"patchbot-sandbox-{name}:latest"


@dataclass(frozen=True)
class ImageSpec:
    name: str
    folder: Path

    @property
    def tag(self) -> str:
        return image_tag(self.name)

    def content_hash(self) -> str:
        digest = hashlib.sha256(BUILDER_VERSION.encode())
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(self.folder)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        return digest.hexdigest()


def discover(images_dir: Path) -> list[ImageSpec]:
    if not images_dir.is_dir():
        raise ConfigError(f"no sandbox images folder at {images_dir}; set PATCHBOT_IMAGES_DIR")
    return [
        ImageSpec(folder.name, folder)
        for folder in sorted(images_dir.iterdir())
        if (folder / "image.toml").is_file() or (folder / "Dockerfile").is_file()
    ]


def find_image(client: docker.DockerClient, name: str) -> Image:
    """The built image for `name`, or an error that says how to build it."""
    try:
        return client.images.get(image_tag(name))
    except docker.errors.ImageNotFound as error:
        raise ConfigError(
            f"sandbox image {name!r} is not built; run `patchbot images build {name}`"
        ) from error


def is_current(spec: ImageSpec, client: docker.DockerClient) -> bool:
    """True when the image exists and was built from the folder as it is now."""
    try:
        current = client.images.get(spec.tag)
    except docker.errors.ImageNotFound:
        return False
    return bool(current.labels.get(HASH_LABEL) == spec.content_hash())


def build(spec: ImageSpec, client: docker.DockerClient) -> None:
    """Build `spec` and label it with its folder's content hash."""
    labels = {NAME_LABEL: spec.name, HASH_LABEL: spec.content_hash()}
    if (spec.folder / "Dockerfile").is_file():
        _build_dockerfile(spec, client, labels)
    else:
        _build_rootfs(spec, client, labels)


def _build_dockerfile(spec: ImageSpec, client: docker.DockerClient, labels: dict[str, str]) -> None:
    try:
        client.images.build(path=str(spec.folder), tag=spec.tag, labels=labels, rm=True)
    except (docker.errors.BuildError, docker.errors.APIError) as error:
        raise ImageBuildError(
            f"building image {spec.name!r} from its Dockerfile: {error}"
        ) from error


def _apt_sources() -> bytes:
    configured = os.environ.get("PATCHBOT_APT_SOURCES")
    for path in [Path(configured)] if configured else APT_SOURCES:
        if path.is_file():
            return path.read_bytes()
    raise ImageBuildError(
        "no apt sources found to build a sandbox image from Debian's packages; set "
        "PATCHBOT_APT_SOURCES to a sources file (deb822 or one-line format), or give the "
        "image a Dockerfile instead (see sandbox_images/README.md)"
    )


def _build_rootfs(spec: ImageSpec, client: docker.DockerClient, labels: dict[str, str]) -> None:
    try:
        recipe = tomllib.loads((spec.folder / "image.toml").read_text())
        suite, packages = str(recipe["suite"]), [str(p) for p in recipe["packages"]]
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        raise ConfigError(f"{spec.folder / 'image.toml'}: needs `suite` and `packages`") from error
    with tempfile.TemporaryDirectory(prefix="patchbot-image-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        command = [
            "mmdebstrap",
            "--variant=apt",
            "--quiet",
            f"--include={','.join(packages)}",
            *(f"--dpkgopt={option}" for option in _SLIM),
            *(f"--customize-hook={hook}" for hook in _CUSTOMIZE),
            suite,
            str(rootfs),
            "-",
        ]
        log.info("building %s: %s", spec.name, shlex.join(command))
        try:
            done = subprocess.run(command, input=_apt_sources(), capture_output=True, check=False)
        except FileNotFoundError as error:
            raise ImageBuildError(
                "mmdebstrap is not installed; run `apt-get install mmdebstrap`, or give the "
                f"image {spec.name!r} a Dockerfile (see sandbox_images/README.md)"
            ) from error
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-15:]
            raise ImageBuildError(
                f"mmdebstrap failed building image {spec.name!r}:\n" + "\n".join(tail)
            )
        changes = [f"ENV {key}={value}" for key, value in IMAGE_ENV.items()]
        changes += [f"USER {SANDBOX_UID}:{SANDBOX_UID}", "WORKDIR /workspace"]
        changes += [f"LABEL {key}={value}" for key, value in labels.items()]
        repository, tag = spec.tag.split(":")
        try:
            client.api.import_image_from_file(str(rootfs), repository, tag, changes=changes)
        except docker.errors.APIError as error:
            raise ImageBuildError(
                f"docker import of image {spec.name!r} failed: {error}"
            ) from error
