"""Real git repositories for the policy tests: a diff is always `git diff --binary` output."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.policy.decisions import Usage
from bot.policy.model import Policy


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8", errors="surrogateescape")


class Repo:
    """A git repository with one base commit; `diff()` is the working tree against it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, rel: str, content: str | bytes) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    def commit(self) -> None:
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", "base")

    def diff(self) -> str:
        git(self.path, "add", "-A")
        return git(self.path, "diff", "--cached", "--binary", "-M", "HEAD")


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Repo]:
    """A repository whose first commit holds `files`."""
    count = 0

    def make(files: dict[str, str | bytes]) -> Repo:
        nonlocal count
        count += 1
        path = tmp_path / f"repo{count}"
        path.mkdir()
        git(path, "init", "-q", "-b", "main")
        repo = Repo(path)
        for rel, content in files.items():
            repo.write(rel, content)
        repo.commit()
        return repo

    return make


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
def usage() -> Usage:
    return Usage(steps=5, cost_usd=0.3, wall_time=120, attempts=1)
