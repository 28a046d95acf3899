"""A change a policy gate holds for a human: the run pauses, the right person approves or
rejects, and an approved run pushes the kept patch without running the agent again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.agent.scripted import load_trajectory
from bot.runs.models import Run, RunState
from bot.testing.stack import MAINTAINER, LocalStack

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "octo/stats"
REVIEWER = "reviewer"
SCRIPT = Path(__file__).parent / "fix_with_workflow.jsonl"


def replies(stack: LocalStack, number: int, marker: str) -> list[str]:
    comments = stack.github.repo(REPOSITORY).comments.values()
    return [c.body for c in comments if c.issue_number == number and marker in c.body]


async def reply(stack: LocalStack, number: int, marker: str, words: str) -> str:
    """The bot's reply carrying `marker` and `words`, once the comment was handled."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [body for body in replies(stack, number, marker) if words in body]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no reply with {words!r} on #{number}")


async def held(stack: LocalStack) -> tuple[int, Run]:
    stack.github.add_collaborator(REPOSITORY, REVIEWER, "write")
    number = stack.github.add_issue(
        REPOSITORY, "median() is wrong for an even count", "see title", author=MAINTAINER
    ).number
    await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
    run = await stack.finished_run(REPOSITORY, number, timeout=240, until_paused=True)
    assert run.state is RunState.AWAITING_APPROVAL, run.summary
    return number, run


async def test_workflow_change_waits_then_an_approval_opens_the_pull_request(
    tmp_path: Path,
) -> None:
    async with LocalStack(tmp_path, load_trajectory(SCRIPT)) as stack:
        await stack.seed(REPOSITORY, ROOT / "tests/examples/buggy_stats", "unused", "issue")
        number, paused = await held(stack)
        repo = stack.github.repo(REPOSITORY)
        [status] = replies(stack, number, "patchbot:status")
        assert "waiting for approval" in status
        assert ".github/workflows/tests.yml" in status
        assert f"other than @\u200b{MAINTAINER}" in status
        assert repo.pulls == {}
        assert "patchbot:needs-human" in repo.issues[number].labels

        # The requester may not approve their own run; the reviewer may.
        await stack.github.comment_on(REPOSITORY, number, "/patchbot approve", by=MAINTAINER)
        await reply(stack, number, "patchbot:decision", "started this run")
        still = await stack.store.get_run(paused.id)
        assert still is not None and still.state is RunState.AWAITING_APPROVAL

        await stack.github.comment_on(REPOSITORY, number, "/patchbot approve", by=REVIEWER)
        run = await stack.finished_run(REPOSITORY, number, timeout=120)
        assert run.state is RunState.SUCCEEDED, run.summary
        [pull] = repo.pulls.values()
        assert f"Approved by @{REVIEWER}" in (pull.body or "")
        assert "| paths | ✋ needs approval |" in (pull.body or "")
        [check] = repo.check_runs.values()
        assert check.conclusion == "success"
        assert "patchbot:needs-human" not in repo.issues[number].labels
        hold = await stack.store.get_hold(run.id)
        assert hold is not None and hold.decided_by == REVIEWER
        # The agent ran once: the approved run pushed the kept patch.
        assert stack.model.model.remaining == 0


async def test_a_rejected_patch_is_dropped(tmp_path: Path) -> None:
    async with LocalStack(tmp_path, load_trajectory(SCRIPT)) as stack:
        await stack.seed(REPOSITORY, ROOT / "tests/examples/buggy_stats", "unused", "issue")
        number, _ = await held(stack)
        await stack.github.comment_on(REPOSITORY, number, "/patchbot reject", by=REVIEWER)
        run = await stack.finished_run(REPOSITORY, number, timeout=60)
        assert run.state is RunState.CANCELLED
        assert f"rejected by @{REVIEWER}" in run.summary
        assert stack.github.repo(REPOSITORY).pulls == {}
        await reply(stack, number, "patchbot:decision", "rejected run")
