"""Build the sandbox images from `sandbox_images/`, locally, with no container registry."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image

from bot.errors import ConfigError, ImageBuildError

log = logging.getLogger(__name__)

BUILDER_VERSION = "2"
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
TOOLS_DIR = "/usr/local/lib/patchbot-tools"
"""Where an image's `tools` (Python packages from the index, e.g. uv) are installed."""
PYTHON_LABEL = "patchbot.image.python"
"""The image's Python version (`3.11`), from its image.toml: how the set-up picks an image."""
BuildProgress = Callable[[str], None]


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

    @property
    def python(self) -> str | None:
        """The Python version its image.toml declares, or None (a Dockerfile image)."""
        recipe = self.folder / "image.toml"
        try:
            value = tomllib.loads(recipe.read_text()).get("python") if recipe.is_file() else None
        except (OSError, tomllib.TOMLDecodeError):
            return None
        return str(value) if value else None

    def content_hash(self) -> str:
        return tree_digest(self.folder, BUILDER_VERSION)


def tree_digest(source: Path, seed: str = "") -> str:
    """SHA-256 of a folder's files (their paths within it and contents), or of one file."""
    digest = hashlib.sha256(seed.encode())
    root = source if source.is_dir() else source.parent
    files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
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


def built_images(client: docker.DockerClient, names: list[str]) -> dict[str, Image]:
    """The images among `names` that are built and declare their Python version."""
    out = {}
    for name in names:
        try:
            image = client.images.get(image_tag(name))
        except docker.errors.ImageNotFound:
            continue
        if image.labels.get(PYTHON_LABEL):
            out[name] = image
    return out


def is_current(spec: ImageSpec, client: docker.DockerClient) -> bool:
    """True when the image exists and was built from the folder as it is now."""
    try:
        current = client.images.get(spec.tag)
    except docker.errors.ImageNotFound:
        return False
    return bool(current.labels.get(HASH_LABEL) == spec.content_hash())


def build(
    spec: ImageSpec, client: docker.DockerClient, progress: BuildProgress | None = None
) -> None:
    """Build `spec` and label it with its folder's content hash; `progress` hears each stage."""
    labels = {NAME_LABEL: spec.name, HASH_LABEL: spec.content_hash()}
    if spec.python:
        labels[PYTHON_LABEL] = spec.python
    if (spec.folder / "Dockerfile").is_file():
        _build_dockerfile(spec, client, labels)
    else:
        _build_rootfs(spec, client, labels, progress or (lambda text: None))


def _build_dockerfile(spec: ImageSpec, client: docker.DockerClient, labels: dict[str, str]) -> None:
    try:
        client.images.build(path=str(spec.folder), tag=spec.tag, labels=labels, rm=True)
    except (docker.errors.BuildError, docker.errors.APIError) as error:
        raise ImageBuildError(
            f"building image {spec.name!r} from its Dockerfile: {error}"
        ) from error


def _apt_sources(suite: str) -> bytes:
    """This machine's apt sources, for `suite`: the suite they name (`bookworm`, with its
    `-updates` and `-security`) is swapped for the image's, so one mirror serves every image."""
    configured = os.environ.get("PATCHBOT_APT_SOURCES")
    for path in [Path(configured)] if configured else APT_SOURCES:
        if path.is_file():
            text = path.read_text()
            match = re.search(
                r"^Suites:\s*([a-z]+)|^deb\s+(?:\[[^]]*\]\s+)?\S+\s+([a-z]+)", text, re.M
            )
            host = (match[1] or match[2]) if match else suite
            return re.sub(rf"\b{re.escape(host)}(?=[\s-])", suite, text).encode()
    raise ImageBuildError(
        "no apt sources found to build a sandbox image from Debian's packages; set "
        "PATCHBOT_APT_SOURCES to a sources file (deb822 or one-line format), or give the "
        "image a Dockerfile instead (see sandbox_images/README.md)"
    )


def _build_rootfs(
    spec: ImageSpec, client: docker.DockerClient, labels: dict[str, str], progress: BuildProgress
) -> None:
    try:
        recipe = tomllib.loads((spec.folder / "image.toml").read_text())
        suite, packages = str(recipe["suite"]), [str(p) for p in recipe["packages"]]
        tools = [str(t) for t in recipe.get("tools", [])]
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        raise ConfigError(
            f"{spec.folder / 'image.toml'}: needs `suite` and `packages` (and `tools` a list)"
        ) from error
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="patchbot-image-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        hooks = [*_CUSTOMIZE, *_tools_hooks(tools)]
        command = [
            "mmdebstrap",
            "--variant=apt",
            f"--include={','.join(packages)}",
            *(f"--dpkgopt={option}" for option in _SLIM),
            *(f"--customize-hook={hook}" for hook in hooks),
            suite,
            str(rootfs),
            "-",
        ]
        log.info("building %s: %s", spec.name, shlex.join(command))
        progress(f"{spec.name}: Debian {suite} root filesystem with mmdebstrap")
        tail = _run_mmdebstrap(spec, command, _apt_sources(suite), progress, started)
        if tail is not None:
            raise ImageBuildError(f"mmdebstrap failed building image {spec.name!r}:\n{tail}")
        changes = [f"ENV {key}={value}" for key, value in IMAGE_ENV.items()]
        changes += [f"USER {SANDBOX_UID}:{SANDBOX_UID}", "WORKDIR /workspace"]
        changes += [f"LABEL {key}={value}" for key, value in labels.items()]
        repository, tag = spec.tag.split(":")
        progress(f"{spec.name}: docker import ({time.monotonic() - started:.0f} s)")
        try:
            client.api.import_image_from_file(str(rootfs), repository, tag, changes=changes)
        except docker.errors.APIError as error:
            raise ImageBuildError(
                f"docker import of image {spec.name!r} failed: {error}"
            ) from error


def _tools_hooks(tools: list[str]) -> list[str]:
    """Hooks installing `tools` from the package index with this Python's pip, into the
    image's /usr/local (their commands linked into /usr/local/bin)."""
    if not tools:
        return []
    target = f'"$1"{TOOLS_DIR}'
    install = shlex.join(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
         "--disable-pip-version-check", *tools]
    )  # fmt: skip
    return [
        "echo 'I: patchbot: installing tools from the package index' >&2",
        f"{install} --target {target}",
        f'for f in {target}/bin/*; do ln -s "{TOOLS_DIR}/bin/${{f##*/}}" "$1/usr/local/bin/"; done',
    ]


def _run_mmdebstrap(
    spec: ImageSpec, command: list[str], sources: bytes, progress: BuildProgress, started: float
) -> str | None:
    """Run mmdebstrap, passing its stages on; None on success, else its last lines."""
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except FileNotFoundError as error:
        raise ImageBuildError(
            "mmdebstrap is not installed; run `apt-get install mmdebstrap`, or give the "
            f"image {spec.name!r} a Dockerfile (see sandbox_images/README.md)"
        ) from error
    assert process.stdin is not None and process.stderr is not None
    process.stdin.write(sources)
    process.stdin.close()
    lines: list[str] = []
    for raw in process.stderr:
        line = raw.decode(errors="replace").rstrip()
        lines = [*lines[-30:], line]
        if line.startswith("I: ") and not line.startswith("I: running"):
            progress(f"{spec.name}: {line[3:].strip()[:100]} ({time.monotonic() - started:.0f} s)")
    if process.wait() != 0:
        return "\n".join(lines[-15:])
    return None
