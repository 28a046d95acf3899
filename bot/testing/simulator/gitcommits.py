"""Commits a person makes on GitHub, written straight into a bare repository: a commit on a
branch (a push from their laptop), a pull request's merge commit, and what a commit says."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from bot.testing.simulator.gitrepo import SimulatorGitError, git
from bot.testing.simulator.state import User


def identity(user: User) -> dict[str, str]:
    """Author and committer as GitHub writes them for a person: their noreply address."""
    email = f"{user.id}+{user.login}@users.noreply.github.com"
    return {
        "GIT_AUTHOR_NAME": user.login,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": user.login,
        "GIT_COMMITTER_EMAIL": email,
    }


async def commit_files(
    bare: Path, parent: str, files: Mapping[str, str], *, by: User, message: str
) -> str:
    """A new commit on top of `parent` with `files` written over its tree; returns its sha.
    No ref moves: the caller decides which branch (if any) points to it."""
    with tempfile.TemporaryDirectory(prefix="sim-index-") as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        await git(bare, "read-tree", parent, env=index)
        for path, text in files.items():
            blob = await git(bare, "hash-object", "-w", "--stdin", stdin=text.encode())
            entry = f"100644,{blob.decode().strip()},{path}"
            await git(bare, "update-index", "--add", "--cacheinfo", entry, env=index)
        tree = (await git(bare, "write-tree", env=index)).decode().strip()
    out = await git(bare, "commit-tree", tree, "-p", parent, "-m", message, env=identity(by))
    return out.decode().strip()


async def merge_commit(bare: Path, base: str, head: str, *, by: User, message: str) -> str:
    """The merge commit of `head` into `base` (GitHub's "Create a merge commit")."""
    try:
        tree = (await git(bare, "merge-tree", "--write-tree", base, head)).decode().split()[0]
    except SimulatorGitError as e:
        raise SimulatorGitError(f"{head} does not merge cleanly into {base}") from e
    args = ["commit-tree", tree, "-p", base, "-p", head, "-m", message]
    return (await git(bare, *args, env=identity(by))).decode().strip()


async def move_branch(bare: Path, branch: str, new: str, old: str) -> None:
    """Point `branch` at `new`, only if it still points at `old` (as a push would)."""
    await git(bare, "update-ref", f"refs/heads/{branch}", new, old)


async def commit_info(bare: Path, sha: str) -> dict[str, str]:
    """What a webhook's `head_commit` says: tree, message, time, author and committer."""
    fields = "%T%x00%B%x00%cI%x00%an%x00%ae%x00%cn%x00%ce"
    out = await git(bare, "show", "-s", f"--format={fields}", sha)
    tree, message, timestamp, a_name, a_email, c_name, c_email = out.decode().split("\0")
    return {
        "tree_id": tree,
        "message": message.strip(),
        "timestamp": timestamp.strip(),
        "author_name": a_name,
        "author_email": a_email,
        "committer_name": c_name,
        "committer_email": c_email.strip(),
    }


async def first_parent(bare: Path, sha: str) -> str | None:
    out = (await git(bare, "rev-list", "--parents", "-n", "1", sha)).decode().split()
    return out[1] if len(out) > 1 else None
