"""Whose files the sandbox writes: the uid it runs as, and handing a checkout over to it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bot.errors import SandboxError
from bot.sandbox.images import SANDBOX_UID


def sandbox_user(workspace: Path) -> tuple[int, int]:
    """The uid:gid the sandbox runs as, never root, and able to write in `workspace`.

    Patchbot running as a normal user runs the sandbox as that user. Running as root, it
    gives the checkout (always Patchbot's own copy) to the image's unprivileged user.
    """
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    paths = [workspace, *workspace.rglob("*")]
    shared = [p for p in paths if p.is_file() and not p.is_symlink() and p.stat().st_nlink > 1]
    if shared:
        # A hard link is the same file in another tree: the sandbox could write there.
        raise SandboxError(
            f"{shared[0]} is hard-linked to a file outside the sandbox's copy; give the "
            "sandbox a real copy (`git clone --no-hardlinks`, or copy the tree)"
        )
    for path in paths:  # only what is not the user's yet: a checkout edited since it was given
        owner = path.lstat()
        if (owner.st_uid, owner.st_gid) != (SANDBOX_UID, SANDBOX_UID):
            os.lchown(path, SANDBOX_UID, SANDBOX_UID)
    return SANDBOX_UID, SANDBOX_UID


def copy_tree(source: Path, destination: Path) -> Path:
    """Copy a checkout's files so a sandbox can write without touching it. Its `.git` comes
    too (setuptools-scm and hatch-vcs read the project's version from it), without hooks."""

    def git_hooks(folder: str, names: list[str]) -> list[str]:
        return ["hooks"] if Path(folder) == source / ".git" else []

    shutil.copytree(source, destination, symlinks=True, ignore=git_hooks)
    return destination


@contextlib.contextmanager
def copied_checkout(source: Path) -> Iterator[Path]:
    """A temporary copy of the checkout's files (`copy_tree`) for a sandbox's /workspace,
    removed at the end: what the sandbox runs never changes `source`."""
    with tempfile.TemporaryDirectory(prefix="patchbot-workspace-") as tmp:
        yield copy_tree(source, Path(tmp) / "workspace")
