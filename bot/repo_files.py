"""Reading an untrusted checkout from the host: never through a link, never a FIFO or device."""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 1024 * 1024
"""Largest file read whole; a bigger one reads as missing."""
SKIP_DIRS = frozenset(
    {".git", ".hg", ".tox", ".nox", ".venv", "venv", "node_modules", "__pycache__",
     ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs", "site-packages", "build", "dist"}
)  # fmt: skip


def read_repo_text(workspace: Path, rel: str, *, limit: int = MAX_FILE_BYTES) -> str | None:
    """The text of a regular file inside the checkout, or None if it is missing, too big, or
    reached through a symbolic link: the checkout is untrusted and may point at host files."""
    data = read_repo_bytes(workspace, rel, limit=limit)
    return None if data is None else data.decode("utf-8", errors="replace")


def read_repo_bytes(workspace: Path, rel: str, *, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The content of a regular file inside the checkout, opened one path component at a time
    without following links (so a link swapped in meanwhile is refused too); None if it is
    missing, not a regular file, larger than `limit` bytes, or reached through a link."""
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            parent, fd = fd, -1
            try:
                fd = os.open(part, flags | os.O_DIRECTORY, dir_fd=parent)
            finally:
                os.close(parent)
        with os.fdopen(os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd), "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return None
            data = file.read(limit + 1)
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    return None if len(data) > limit else data


def iter_repo_files(workspace: Path, *, limit: int = 20000) -> Iterator[str]:
    """Repository-relative paths of files in the checkout, without following links or
    entering tool and environment folders; at most `limit` of them."""
    count = 0
    for root, dirs, files in os.walk(workspace):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        rel_root = os.path.relpath(root, workspace)
        for name in sorted(files):
            count += 1
            if count > limit:
                return
            yield name if rel_root == "." else f"{rel_root}/{name}".replace(os.sep, "/")


def is_file(workspace: Path, rel: str) -> bool:
    try:
        return stat.S_ISREG(os.lstat(workspace / rel).st_mode)
    except OSError:
        return False


def is_dir(workspace: Path, rel: str) -> bool:
    """True when `rel` is a folder inside the checkout reached through no link at all."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        return False
    try:
        return all(
            stat.S_ISDIR(os.lstat(workspace.joinpath(*parts[: n + 1])).st_mode)
            for n in range(len(parts))
        )
    except OSError:
        return False


def list_dir(workspace: Path, folder: str) -> list[str]:
    if folder and not is_dir(workspace, folder.rstrip("/")):
        return []
    try:
        return sorted(os.listdir(workspace / folder))
    except OSError:
        return []


def load_toml(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        return {}
