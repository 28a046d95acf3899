"""Git for evaluation: the commits to mine, a commit's diff split into fix and tests, and
history-free copies of one commit (nothing from after it can reach the agent)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import BaseModel

from bot.eval.tasks import is_test_path
from bot.solve.checkout import git

IDENTITY = {
    "GIT_AUTHOR_NAME": "patchbot-eval",
    "GIT_AUTHOR_EMAIL": "eval@patchbot.invalid",
    "GIT_COMMITTER_NAME": "patchbot-eval",
    "GIT_COMMITTER_EMAIL": "eval@patchbot.invalid",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}
"""A fixed identity and date: the copy's one commit says nothing about the original's."""


class Commit(BaseModel):
    sha: str
    parent: str
    date: str
    message: str


def git_dir(repo: Path) -> Path:
    """The repository's git directory (a bare repository is its own)."""
    found = git("rev-parse", "--absolute-git-dir", cwd=repo).strip()
    return Path(found)


def commits(repo: Path, *, max_commits: int | None, since: str | None) -> list[Commit]:
    """Single-parent commits reachable from HEAD, newest first (merges have no one parent)."""
    args = ["log", "--no-merges", "--format=%H%x00%P%x00%cI%x00%B%x1e"]
    if since:
        args.append(f"--since={since}")
    if max_commits:
        args.append(f"--max-count={max_commits}")
    found = []
    for record in git(*args, "HEAD", cwd=repo).split("\x1e"):
        fields = record.strip("\n").split("\x00")
        if len(fields) != 4 or not fields[1] or " " in fields[1]:
            continue  # a root commit (nothing to compare with) or a leftover
        sha, parent, date, message = fields
        found.append(Commit(sha=sha, parent=parent, date=date, message=message.strip()))
    return found


def changed_files(repo: Path, parent: str, sha: str) -> list[str]:
    return git("diff", "--name-only", "--no-renames", parent, sha, cwd=repo).split()


def split_diff(repo: Path, parent: str, sha: str) -> tuple[str, str]:
    """The commit's diff as (fix, tests): the test files' changes apart from the rest."""
    files = changed_files(repo, parent, sha)
    tests = [path for path in files if is_test_path(path)]
    source = [path for path in files if not is_test_path(path)]

    def diff(paths: list[str]) -> str:
        if not paths:
            return ""
        return git("diff", "--binary", "--no-renames", parent, sha, "--", *paths, cwd=repo)

    return diff(source), diff(tests)


def tree_copy(repo: Path, commit: str, dest: Path) -> Path:
    """The files of `commit` at `dest` (a new folder), without any git data."""
    dest.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="patchbot-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        where = ("--git-dir", str(git_dir(repo)), "--work-tree", str(dest))
        git(*where, "read-tree", commit, env=env)
        git(*where, "checkout-index", "--all", "--force", env=env)
    return dest


def restore_files(repo: Path, commit: str, tree: Path, paths: list[str]) -> None:
    """`paths` at `tree` as they are in `commit`, byte for byte; removed where it has none."""
    present = set(git("ls-tree", "-r", "--name-only", commit, "--", *paths, cwd=repo).split("\n"))
    for path in paths:
        if path not in present:
            (tree / path).unlink(missing_ok=True)
    kept = [path for path in paths if path in present]
    if not kept:
        return
    with tempfile.TemporaryDirectory(prefix="patchbot-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        where = ("--git-dir", str(git_dir(repo)), "--work-tree", str(tree))
        git(*where, "read-tree", commit, env=env)
        git(*where, "checkout-index", "--force", "--", *kept, env=env)


def history_free_copy(repo: Path, commit: str, dest: Path, patches: tuple[str, ...] = ()) -> Path:
    """A new repository at `dest` whose one commit holds `commit`'s files (with `patches`
    applied): no object, tag, branch or reflog of the original, not even its dates."""
    tree_copy(repo, commit, dest)
    for number, patch in enumerate(patches):
        apply_patch(dest, patch, f"patch-{number}")
    init = ("-c", "init.defaultBranch=main")
    git(*init, "init", "--quiet", cwd=dest)
    git("add", "--all", "--force", ".", cwd=dest)
    git("commit", "--quiet", "--no-verify", "--allow-empty", "-m", "base", cwd=dest, env=IDENTITY)
    return dest


def apply_patch(tree: Path, patch: str, name: str = "patch") -> None:
    """Apply a git diff to the files at `tree` (GitError when it does not apply)."""
    if not patch.strip():
        return
    fd, path = tempfile.mkstemp(prefix=f"patchbot-{name}-", suffix=".diff")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(patch)
        # Never a repository around `tree`: its paths are relative to `tree` itself.
        ceiling = {"GIT_CEILING_DIRECTORIES": str(tree.resolve().parent)}
        git("apply", "--binary", "--whitespace=nowarn", path, cwd=tree, env=ceiling)
    finally:
        os.unlink(path)
