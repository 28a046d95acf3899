"""Fixtures shared by every test folder: example repositories, the Docker gate and GitHub's
real examples (`../shared/fixtures`), which a plain clone does not have."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from bot.testing.simulator import generate_private_key

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "examples"
FIXTURES = ROOT.parent / "shared" / "fixtures"
"""GitHub's real example payloads and REST description, beside the checkout (see their
SOURCE.md files); a plain clone has none, so the tests that compare with them skip there."""

# The example repositories are targets for Patchbot, not part of our own suite.
collect_ignore = ["examples"]
# The stores and the webhook stack that tests/runs, tests/web and tests/handlers share.
pytest_plugins = ["tests.stores"]


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


def unavailable(message: str) -> NoReturn:
    """Skip the test for want of something outside it; in CI (`CI` set), fail instead."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def docker_ready() -> None:
    """Docker tests need the engine and the built images; in CI their absence is a failure."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
        client.images.get("patchbot-sandbox-python:latest")
    except docker.errors.DockerException as error:
        unavailable(f"Docker tests need the engine and `patchbot images build`: {error}")


@pytest.fixture(scope="session")
def real_fixtures() -> Path:
    """`../shared/fixtures`, for the tests that compare us with GitHub's real examples."""
    if not FIXTURES.is_dir():
        unavailable(f"compares with GitHub's real examples in {FIXTURES}, absent in a plain clone")
    return FIXTURES


@pytest.fixture(scope="session")
def app_private_key() -> str:
    """One RSA key for a simulated app per session (generating one takes a while)."""
    return generate_private_key()


class Scrape:
    """This process's metrics as Prometheus reads them (its own parser), reset for the test."""

    def __init__(self, metrics: Any) -> None:
        self.metrics = metrics

    def samples(
        self, text: str | None = None
    ) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every sample of the exposition `text` (default: the process's), by (name, labels)."""
        from prometheus_client.parser import text_string_to_metric_families

        text = text if text is not None else self.metrics.exposition().decode()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def value(self, name: str, text: str | None = None, **labels: str) -> float | None:
        return self.samples(text).get((name, frozenset(labels.items())))


@pytest.fixture
def scrape(monkeypatch: pytest.MonkeyPatch) -> Scrape:
    """A fresh `Metrics` for this process while the test runs, and a way to read it."""
    from bot.telemetry import metrics

    fresh = metrics.Metrics()
    monkeypatch.setattr(metrics, "_process", fresh)
    return Scrape(fresh)
