"""The disk limit's overlay on real mounts: what is written over a folder lands in it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from bot.sandbox.disk import attach, can_limit, detach, release

pytestmark = pytest.mark.skipif(not can_limit(), reason="mounting a disk limit needs root")

CHANGES = """
set -e
echo changed > a.txt
rm b.txt
echo new > sub/new.txt
rm -r gone && mkdir gone && echo fresh > gone/fresh.txt
mv kept renamed
ln -sf a.txt link
chmod 700 sub
mkfifo pipe
: > emptied.txt
rm -r deep/er && echo file > deep/er
"""
"""What a sandbox might do to a checkout: edit, delete, replace a folder, rename one, ..."""


def make_tree(root: Path) -> Path:
    for name, text in {
        "a.txt": "a\n",
        "b.txt": "b\n",
        "emptied.txt": "something\n",
        "sub/old.txt": "old\n",
        "gone/inside.txt": "inside\n",
        "kept/deeper/file.txt": "kept\n",
        "deep/er/most.txt": "most\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    os.symlink("b.txt", root / "link")
    return root


def tree(root: Path, *, times: bool = True) -> dict[str, tuple[object, ...]]:
    """Every entry under `root`: kind and mode, owner, content or link target, and times."""
    entries: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            content: object = path.read_bytes()
        elif stat.S_ISLNK(info.st_mode):
            content = os.readlink(path)
        else:
            content = None
        entry: tuple[object, ...] = (info.st_mode, info.st_uid, info.st_gid, content)
        if times and not stat.S_ISDIR(info.st_mode):
            entry += (info.st_mtime_ns,)
        entries[str(path.relative_to(root))] = entry
    return entries


def mounts_of(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        return [line for line in mountinfo if str(path) in line]


def test_what_is_written_over_the_folder_is_what_it_holds_after(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "folder")
    expected = shutil.copytree(folder, tmp_path / "expected", symlinks=True)
    subprocess.run(["bash", "-c", CHANGES], cwd=expected, check=True)
    disk = attach(folder, 64)
    assert mounts_of(folder)
    subprocess.run(["bash", "-c", CHANGES], cwd=folder, check=True)
    seen = tree(folder)
    detach(disk)
    assert tree(folder) == seen
    assert tree(folder, times=False) == tree(expected, times=False)
    assert mounts_of(folder) == [] and not disk.scratch.exists()


def test_writes_stop_at_the_size(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "folder")
    disk = attach(folder, 16)
    try:
        fill = subprocess.run(
            ["dd", "if=/dev/zero", "of=fill", "bs=1M", "count=32"],
            cwd=folder,
            capture_output=True,
            text=True,
        )
    finally:
        detach(disk)
    assert fill.returncode != 0 and "No space left on device" in fill.stderr
    assert (folder / "fill").stat().st_size < 16 << 20
    assert (folder / "a.txt").read_text() == "a\n"


def test_release_unmounts_a_disk_its_process_left(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "folder")
    disk = attach(folder, 16)
    (folder / "a.txt").write_text("lost with its process\n")
    release(disk.scratch)  # as the sweep does for a dead process's disk
    assert mounts_of(folder) == [] and mounts_of(disk.scratch) == []
    assert (folder / "a.txt").read_text() == "a\n"
    shutil.rmtree(disk.scratch)


def test_releasing_a_folder_takes_the_disks_over_it_wherever_their_files_are(
    tmp_path: Path,
) -> None:
    folder = make_tree(tmp_path / "work" / "checkout")
    disk = attach(folder, 16)  # its files are in the temp dir, not under `work`
    release(tmp_path / "work")  # as the sweep does with a dead process's checkouts
    assert mounts_of(folder) == [] and mounts_of(disk.scratch) == []
    assert not disk.scratch.exists()
