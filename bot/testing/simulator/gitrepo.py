"""The simulator's real bare repositories: creating them, and reading refs, trees and diffs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from bot.errors import PatchbotError

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Simulated Octocat",
    "GIT_AUTHOR_EMAIL": "octocat@users.noreply.example",
    "GIT_COMMITTER_NAME": "Simulated Octocat",
    "GIT_COMMITTER_EMAIL": "octocat@users.noreply.example",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


class SimulatorGitError(PatchbotError, RuntimeError):
    """A git command inside the simulator failed."""


def git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(_GIT_ENV)
    env["HOME"] = env.get("HOME", "/tmp")
    return env


def _run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SimulatorGitError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def create_bare_repo(
    path: Path,
    *,
    files: Mapping[str, str | bytes] | None = None,
    source: Path | None = None,
    default_branch: str = "main",
) -> None:
    """A bare repository at `path` whose default branch has one commit with these files
    (or a copy of the directory `source`), accepting pushes over smart HTTP."""
    path.mkdir(parents=True, exist_ok=True)
    _run(["init", "--quiet", "--bare", f"--initial-branch={default_branch}", str(path)], path)
    _run(["config", "http.receivepack", "true"], path)
    with tempfile.TemporaryDirectory(prefix="sim-seed-") as scratch:
        work = Path(scratch)
        _run(["init", "--quiet", f"--initial-branch={default_branch}"], work)
        if source is not None:
            subprocess.run(["cp", "-a", f"{source}/.", str(work)], check=True)
        for name, content in (files or {"README.md": "# Example\n"}).items():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        _run(["add", "--all"], work)
        _run(["commit", "--quiet", "--message", "Initial commit"], work)
        _run(["push", "--quiet", str(path), f"HEAD:refs/heads/{default_branch}"], work)


async def git(
    bare: Path, *args: str, stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> bytes:
    """Run git on a bare repository, with `env` over the simulator's own; raise on failure."""
    process = await asyncio.create_subprocess_exec(
        "git",
        f"--git-dir={bare}",
        *args,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**git_env(), **(env or {})},
    )
    out, err = await process.communicate(stdin)
    if process.returncode != 0:
        raise SimulatorGitError(f"git {' '.join(args)} failed: {err.decode(errors='replace')}")
    return out


async def ref_sha(bare: Path, ref: str) -> str | None:
    """The commit a ref (`main`, `heads/main`, `refs/heads/main`, a sha) points to, or None."""
    name = ref if ref.startswith("refs/") or len(ref) == 40 else f"refs/heads/{ref}"
    if ref.startswith(("heads/", "tags/")):
        name = f"refs/{ref}"
    try:
        out = await git(bare, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    except SimulatorGitError:
        return None
    return out.decode().strip() or None


async def update_ref(bare: Path, ref: str, sha: str) -> None:
    await git(bare, "update-ref", ref, sha)


async def object_at(bare: Path, commit: str, path: str) -> tuple[str, str, int] | None:
    """(type, sha, size) of the object at `path` in `commit`, or None if absent."""
    path = path.strip("/")
    if not path:
        out = await git(bare, "rev-parse", f"{commit}^{{tree}}")
        return "tree", out.decode().strip(), 0
    out = await git(bare, "ls-tree", "--long", commit, "--", path)
    line = out.decode().strip()
    if not line:
        return None
    meta, _, _name = line.partition("\t")
    _mode, kind, sha, size = meta.split()
    return kind, sha, int(size) if size.isdigit() else 0


async def tree_entries(bare: Path, commit: str, path: str) -> list[tuple[str, str, str, int]]:
    """(type, name, sha, size) of each entry of the directory `path` in `commit`."""
    spec = f"{commit}:{path.strip('/')}" if path.strip("/") else f"{commit}^{{tree}}"
    out = await git(bare, "ls-tree", "--long", spec)
    entries = []
    for line in out.decode().splitlines():
        meta, _, name = line.partition("\t")
        _mode, kind, sha, size = meta.split()
        entries.append((kind, name, sha, int(size) if size.isdigit() else 0))
    return entries


async def blob(bare: Path, sha: str) -> bytes:
    return await git(bare, "cat-file", "blob", sha)


async def diff_stats(bare: Path, base: str, head: str) -> tuple[int, int, int, int]:
    """(additions, deletions, changed files, commits) of `head` over its merge base with `base`."""
    numstat = (await git(bare, "diff", "--numstat", f"{base}...{head}")).decode().splitlines()
    additions = deletions = 0
    for line in numstat:
        added, deleted, _ = line.split("\t", 2)
        additions += int(added) if added.isdigit() else 0
        deletions += int(deleted) if deleted.isdigit() else 0
    commits = int((await git(bare, "rev-list", "--count", f"{base}..{head}")).decode().strip())
    return additions, deletions, len(numstat), commits
