"""Fixtures shared by every test folder: example repositories and the Docker gate."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "examples"
FIXTURES = ROOT.parent / "shared" / "fixtures"

# The example repositories are targets for Patchbot, not part of our own suite.
collect_ignore = ["examples"]


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity; return its stdout."""
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture
def example_repo(tmp_path: Path) -> Callable[[str], Path]:
    """Copy `tests/examples/NAME` into a fresh git repository with one commit."""

    def make(name: str) -> Path:
        repo = tmp_path / name
        shutil.copytree(EXAMPLES / name, repo)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial")
        return repo

    return make


@pytest.fixture(scope="session")
def docker_ready() -> None:
    """Docker tests need the engine and the built images; in CI their absence is a failure."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
        client.images.get("patchbot-sandbox-python:latest")
    except docker.errors.DockerException as error:
        message = f"Docker tests need the engine and `patchbot images build`: {error}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
