"""Fixtures of the evaluation tests: the made-up history, and its mined tasks (mined once per
session: mining sets up and runs tests in Docker)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.eval.history import build_history


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "calc"
    return repo, build_history(repo)


@pytest.fixture(scope="session")
def mined(
    tmp_path_factory: pytest.TempPathFactory, docker_ready: None
) -> tuple[Path, dict[str, str], Path, list[str]]:
    """The history repository, its commits, the tasks file and the progress lines of mining."""
    from bot.eval.mine import MineOptions, mine
    from bot.sandbox.local import local_sandbox
    from bot.solve.solver import docker_sandbox

    root = tmp_path_factory.mktemp("mined")
    repo = root / "calc"
    commits = build_history(repo)
    out = root / "tasks.jsonl"
    lines: list[str] = []
    options = MineOptions(repo=repo, out=out, concurrency=3)
    asyncio.run(mine(options, local_sandbox, docker_sandbox, lines.append))
    return repo, commits, out, lines
