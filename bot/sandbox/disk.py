"""Disk limits: what a sandbox writes to the host's disk has a size it cannot pass.

The checkout at `/workspace` and, during set-up, the environment volume at `/env` are host
folders the container writes to, and Docker's storage driver (fuse-overlayfs here) has no
quota. So for a container's life each such folder gets an ext4 filesystem of the configured
size, in a sparse file: Patchbot copies the folder's content in and mounts it over the folder,
so the host and the container see the same files as before, and on the way out copies the
content back and unmounts it. A write past the size fails with "No space left on device".

Mounting needs root. Each disk's files are in a folder of `<temp dir>/patchbot-disks-<uid>/`
marked with its owner, so that the sweep can release what a dead process left mounted.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.errors import SandboxError
from bot.sandbox.owners import mark

log = logging.getLogger(__name__)

_MKFS = ("mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-m", "0")
"""A scratch filesystem: no journal, no blocks kept for root."""
_MOUNT_OPTIONS = "loop,nosuid,nodev,noatime,noinit_itable"
_SCRATCH = "patchbot-disks"


@dataclass(frozen=True)
class Disk:
    """A size-limited filesystem mounted over `folder`."""

    folder: Path
    scratch: Path
    """Holds the filesystem's file (`disk.img`) and its own mount point (`fs`)."""

    @property
    def image(self) -> Path:
        return self.scratch / "disk.img"

    @property
    def mount(self) -> Path:
        return self.scratch / "fs"


def _private_path(name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"{name}-{os.geteuid()}"


def private_folder(name: str) -> Path:
    """`<temp dir>/<name>-<uid>`, made if needed, after checking that it is this user's own
    (the temp dir is shared: no one else's folder or link)."""
    directory = _private_path(name)
    directory.mkdir(mode=0o700, exist_ok=True)
    if directory.is_symlink() or directory.stat().st_uid != os.geteuid():
        raise SandboxError(f"{directory} is not this user's own folder; remove it")
    return directory


def scratch_root() -> Path:
    """Where the scratch disks are, in one folder per process that made them."""
    return private_folder(_SCRATCH)


def can_limit() -> bool:
    """Whether this process may mount filesystems (it runs as root)."""
    return os.geteuid() == 0


def _run(*argv: str) -> None:
    try:
        subprocess.run(argv, capture_output=True, text=True, check=True)
    except FileNotFoundError as error:
        raise SandboxError(f"{argv[0]} is missing; install util-linux and e2fsprogs") from error
    except subprocess.CalledProcessError as error:
        raise SandboxError(f"{' '.join(argv)} failed: {error.stderr.strip()}") from error


def _copy(source: Path, destination: Path) -> None:
    """Copy the content of `source` into the folder `destination`, as it is (owners, modes,
    times, links)."""
    _run("cp", "-a", "--", f"{source}/.", f"{destination}/")


def _empty(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def attach(folder: Path, size_mb: int, setting: str) -> Disk:
    """Put `folder` on a new filesystem of `size_mb` MiB; `setting` names the limit."""
    disk = Disk(folder, Path(tempfile.mkdtemp(dir=scratch_root())))
    try:
        mark(disk.scratch)
        owner = folder.stat()
        with disk.image.open("wb") as image:
            image.truncate(size_mb << 20)
        root_owner = f"root_owner={owner.st_uid}:{owner.st_gid}"
        _run(*_MKFS, "-E", f"lazy_itable_init=1,lazy_journal_init=1,{root_owner}", str(disk.image))
        disk.mount.mkdir()
        _run("mount", "-t", "ext4", "-o", _MOUNT_OPTIONS, str(disk.image), str(disk.mount))
        (disk.mount / "lost+found").rmdir()
        try:
            _copy(folder, disk.mount)
        except SandboxError as error:
            raise SandboxError(
                f"{folder} does not fit in the sandbox's disk limit ({setting} = {size_mb} "
                f"MiB); raise it ({error})"
            ) from error
        _run("mount", "--bind", str(disk.mount), str(folder))
    except BaseException:
        release(disk.scratch)
        shutil.rmtree(disk.scratch, ignore_errors=True)
        raise
    return disk


def detach(disk: Disk) -> None:
    """Copy the filesystem's content back into the folder under it, and remove it."""
    _run("umount", "--lazy", str(disk.folder))
    try:
        _empty(disk.folder)
        _copy(disk.mount, disk.folder)
    except (OSError, SandboxError) as error:
        raise SandboxError(
            f"could not copy the sandbox's files back into {disk.folder}: {error}; they are "
            f"kept in {disk.mount} until this process ends"
        ) from error
    release(disk.scratch)
    shutil.rmtree(disk.scratch, ignore_errors=True)


@dataclass(frozen=True)
class _Mount:
    point: Path
    device: str
    """`major:minor` of the filesystem mounted."""
    source: str


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), field)


def _mounts() -> list[_Mount]:
    with open("/proc/self/mountinfo") as mountinfo:
        entries = [line.split(" - ") for line in mountinfo]
    return [
        _Mount(Path(_unescape(before.split()[4])), before.split()[2], after.split()[1])
        for before, after in entries
    ]


def _scratch_backed(mount: _Mount) -> bool:
    """Whether the mount is of a loop device whose file is one of Patchbot's scratch disks."""
    if not mount.source.startswith("/dev/loop"):
        return False
    name = mount.source.removeprefix("/dev/")
    try:
        backing = Path(f"/sys/block/{name}/loop/backing_file").read_text().strip()
    except OSError:
        return False
    return _private_path(_SCRATCH) in Path(backing).parents


def release(folder: Path) -> None:
    """Unmount everything mounted at or under `folder`, and every other mount of a scratch
    disk mounted there (the folder it was mounted over), innermost first."""
    folder = folder.resolve()
    mounts = _mounts()
    inside = [m for m in mounts if m.point == folder or folder in m.point.parents]
    disks = {m.device for m in inside if _scratch_backed(m)}
    points = {m.point for m in inside} | {m.point for m in mounts if m.device in disks}
    for point in sorted(points, key=lambda path: len(path.parts), reverse=True):
        _run("umount", "--lazy", str(point))
