"""Patchbot never overwrites a human's commit on its branch, even one that kept its trailer."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from bot.agent.scripted import load_trajectory
from bot.runs.models import RunState
from bot.testing.stack import MAINTAINER, LocalStack

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "octo/stats"
FIX = load_trajectory(ROOT / "bot" / "agent" / "trajectories" / "fix_median.jsonl")


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


async def test_retry_does_not_replace_a_commit_a_human_amended(tmp_path: Path) -> None:
    async with LocalStack(tmp_path / "stack", FIX + FIX) as stack:
        number = await stack.seed(
            REPOSITORY, ROOT / "tests/examples/buggy_stats", "median() is wrong", "see title"
        )
        await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
        first = await stack.finished_run(REPOSITORY, number, timeout=240)
        assert first.state is RunState.SUCCEEDED, first.summary
        repo = stack.github.repo(REPOSITORY)
        [pull] = repo.pulls.values()
        # A reviewer amends Patchbot's commit (the trailer stays) and force-pushes it.
        work = tmp_path / "work"
        await asyncio.to_thread(
            git, "clone", "-q", "-b", pull.head, str(repo.path), str(work), cwd=tmp_path
        )
        who = ["-c", "user.name=Reviewer", "-c", "user.email=reviewer@example.invalid"]
        await asyncio.to_thread(git, *who, "commit", "-q", "--amend", "--no-edit", cwd=work)
        amended = (await asyncio.to_thread(git, "rev-parse", "HEAD", cwd=work)).strip()
        await asyncio.to_thread(git, "push", "-q", "-f", "origin", f"HEAD:{pull.head}", cwd=work)

        await stack.github.comment_on(REPOSITORY, number, "/patchbot retry", by=MAINTAINER)
        for _ in range(300):  # until the retry's run exists
            latest = await stack.store.latest_run(REPOSITORY, number)
            if latest is not None and latest.id != first.id:
                break
            await asyncio.sleep(0.1)
        second = await stack.finished_run(REPOSITORY, number, timeout=240)
        assert second.state is RunState.FAILED
        assert "did not make" in second.summary
        assert await stack.github.branch_sha(REPOSITORY, pull.head) == amended
