"""Disk limits: what a sandbox writes to the host's disk has a size it cannot pass.

The checkout at `/workspace` and, during set-up, the environment volume at `/env` are host
folders the container writes to, and Docker's storage driver (fuse-overlayfs here) has no
quota. So for a container's life each such folder is covered by an overlay filesystem: the
folder as it is below, and above it, taking every write, an ext4 filesystem of the
configured size in a sparse file. The host and the container see the same files as before;
a write past the size fails with "No space left on device". On the way out the changes
(files written, deleted, replaced) are applied to the folder and the overlay is unmounted,
so what it costs grows with what the sandbox changed, not with the size of the checkout.

Mounting needs root. Each disk's files are in a folder of `<temp dir>/patchbot-disks-<uid>/`
marked with its owner, so that the sweep can release what a dead process left mounted.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.errors import SandboxError
from bot.sandbox.owners import OWNER_FILE, mark

_MKFS = ("mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-m", "0")
"""The upper layer's filesystem: no journal, no blocks kept for root."""
_LOOP_OPTIONS = "loop,nosuid,nodev,noatime,noinit_itable"
_OVERLAY_OPTIONS = "redirect_dir=off,metacopy=off,index=off"
"""Plain copy-ups only, so the upper layer is whole files, whiteouts and opaque folders."""
_OPAQUE = "trusted.overlay.opaque"
_SCRATCH = "patchbot-disks"


@dataclass(frozen=True)
class Disk:
    """An overlay over `folder` whose writes go to a size-limited filesystem."""

    folder: Path
    scratch: Path
    """Holds the filesystem's file (`disk.img`), its mount point (`fs`, with the overlay's
    `upper` and `work` folders) and the folder as it was (`lower`, a bind mount)."""

    @property
    def image(self) -> Path:
        return self.scratch / "disk.img"

    @property
    def filesystem(self) -> Path:
        return self.scratch / "fs"

    @property
    def lower(self) -> Path:
        return self.scratch / "lower"

    @property
    def upper(self) -> Path:
        return self.filesystem / "upper"


def private_folder(name: str) -> Path:
    """`<temp dir>/<name>-<uid>`, made if needed, after checking that it is this user's own
    (the temp dir is shared: no one else's folder or link)."""
    directory = Path(tempfile.gettempdir()) / f"{name}-{os.geteuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    if directory.is_symlink() or directory.stat().st_uid != os.geteuid():
        raise SandboxError(f"{directory} is not this user's own folder; remove it")
    return directory


def scratch_root() -> Path:
    """Where the disks' files are, a folder for each disk."""
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


def attach(folder: Path, size_mb: int) -> Disk:
    """Cover `folder` with an overlay that takes at most `size_mb` MiB of writes."""
    disk = Disk(folder, Path(tempfile.mkdtemp(dir=scratch_root())))
    try:
        mark(disk.scratch)
        with disk.image.open("wb") as image:
            image.truncate(size_mb << 20)
        _run(*_MKFS, "-E", "lazy_itable_init=1,lazy_journal_init=1", str(disk.image))
        disk.filesystem.mkdir()
        _run("mount", "-t", "ext4", "-o", _LOOP_OPTIONS, str(disk.image), str(disk.filesystem))
        disk.upper.mkdir()
        (disk.filesystem / "work").mkdir()
        _same_metadata(disk.upper, folder.stat())  # the overlay's root is the upper one's
        # The folder as it is, under a path with no `:` or `,` to confuse the mount options.
        disk.lower.mkdir()
        _run("mount", "--bind", str(folder), str(disk.lower))
        _run("mount", "--make-private", str(disk.lower))
        layers = f"lowerdir={disk.lower},upperdir={disk.upper},workdir={disk.filesystem}/work"
        _run("mount", "-t", "overlay", "-o", f"{layers},{_OVERLAY_OPTIONS}", "overlay", str(folder))
    except BaseException:
        release(disk.scratch)
        shutil.rmtree(disk.scratch, ignore_errors=True)
        raise
    return disk


def detach(disk: Disk) -> None:
    """Apply the changes made over the folder to it, and remove the overlay and its disk."""
    _run("umount", "--lazy", str(disk.folder))
    try:
        _apply(disk.upper, disk.folder)
        _same_metadata(disk.folder, disk.upper.lstat())
    except OSError as error:
        raise SandboxError(
            f"could not apply the sandbox's changes to {disk.folder}: {error}; they are kept "
            f"in {disk.upper} until this process ends"
        ) from error
    release(disk.scratch)
    shutil.rmtree(disk.scratch, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _same_metadata(path: Path, like: os.stat_result) -> None:
    """Owner, mode and times of `like` (but never a set-user or set-group id file)."""
    os.chown(path, like.st_uid, like.st_gid, follow_symlinks=False)
    if stat.S_ISREG(like.st_mode):
        os.chmod(path, stat.S_IMODE(like.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
    elif not stat.S_ISLNK(like.st_mode):
        os.chmod(path, stat.S_IMODE(like.st_mode))
    os.utime(path, ns=(like.st_atime_ns, like.st_mtime_ns), follow_symlinks=False)


def _apply(upper: Path, folder: Path) -> None:
    """Make `folder` what the overlay showed: each entry of the upper layer replaces the
    folder's, a whiteout (a 0/0 character device) deletes it, an opaque folder replaces the
    folder's whole."""
    for entry in os.scandir(upper):
        source, target = Path(entry.path), folder / entry.name
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
            _remove(target)
            continue
        if stat.S_ISDIR(info.st_mode):
            opaque = _OPAQUE in os.listxattr(source, follow_symlinks=False)
            if opaque or not target.is_dir() or target.is_symlink():
                _remove(target)
                target.mkdir()
            _apply(source, target)
        else:
            _remove(target)
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(source), target)
            elif stat.S_ISREG(info.st_mode):
                shutil.copyfile(source, target)
            elif stat.S_ISFIFO(info.st_mode):
                os.mkfifo(target)
            else:
                continue  # a socket: nothing to keep
        _same_metadata(target, info)


@dataclass(frozen=True)
class _Mount:
    point: Path
    options: str
    """The filesystem's own options (an overlay's layers)."""


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), field)


def _mounts() -> list[_Mount]:
    with open("/proc/self/mountinfo") as mountinfo:
        entries = [line.split(" - ") for line in mountinfo]
    return [
        _Mount(Path(_unescape(before.split()[4])), _unescape(after.split()[2]))
        for before, after in entries
    ]


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def release(folder: Path) -> None:
    """Unmount what is mounted at or under `folder`, innermost first, and every disk's
    overlay there or with its layers there, with the layers: a dead process's disks, wherever
    they were mounted. The folders of those disks' files (another process's temp dir, say)
    are removed; `folder` itself is the caller's."""
    folder = folder.resolve()
    mounts = _mounts()
    overlays: dict[Path, Path] = {}
    for mount in mounts:
        upper = re.search(r"(?:^|,)upperdir=([^,]*)", mount.options)
        if upper is None:
            continue
        scratch = Path(upper[1]).parent.parent  # <scratch>/fs/upper
        if (scratch / OWNER_FILE).exists() and (
            _within(mount.point, folder) or _within(scratch, folder)
        ):
            overlays[mount.point] = scratch
    layers = set(overlays.values())
    inside = [
        mount.point
        for mount in mounts
        if mount.point not in overlays
        and any(_within(mount.point, root) for root in (folder, *layers))
    ]
    points = [*overlays, *sorted(inside, key=lambda path: len(path.parts), reverse=True)]
    for point in points:  # one may be gone already: another sweep got there first
        subprocess.run(["umount", "--lazy", str(point)], capture_output=True, check=False)
    left = {mount.point for mount in _mounts()} & set(points)
    if left:  # never go on to delete what is in a mount
        raise SandboxError(f"could not unmount {', '.join(map(str, sorted(left)))}")
    for scratch in layers:
        if not _within(scratch, folder):
            shutil.rmtree(scratch, ignore_errors=True)
