"""`/patchbot stop` while a run works: the run is cancelled, its sandbox removed, the status
comment says so, and nothing reaches the repository."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import pytest

from bot.runs.models import RunState
from bot.testing.stack import MAINTAINER, LocalStack
from tests.e2e.conftest import (
    REPOSITORY,
    StartStack,
    branches,
    eventually,
    has_event,
    owner_of,
    sandbox_containers,
    status_comments,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]


async def baseline_running(stack: LocalStack, number: int, owner: str) -> bool:
    run = await stack.store.latest_run(REPOSITORY, number)
    started = run is not None and has_event(stack, run.id, "solve_start")
    return started and bool(await asyncio.to_thread(sandbox_containers, owner))


async def agent_command_running(stack: LocalStack, number: int, owner: str) -> bool:
    run = await stack.store.latest_run(REPOSITORY, number)
    return run is not None and has_event(stack, run.id, "tool_call")


@pytest.mark.parametrize(
    ("script", "working"),
    [("fix_median", baseline_running), ("sleeps", agent_command_running)],
    ids=["during-baseline", "during-agent-command"],
)
async def test_stop_comment_cancels_the_run_removes_its_sandbox_and_says_so(
    start_stack: StartStack,
    script: str,
    working: Callable[[LocalStack, int, str], Awaitable[bool]],
) -> None:
    # A short lease: the worker looks for a stop request at each heartbeat (a third of it).
    stack, number = await start_stack(script, environment={"PATCHBOT_LEASE_SECONDS": "3"})
    mine = owner_of(os.getpid())  # the stack's worker runs in this process
    await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
    await eventually(lambda: working(stack, number, mine), f"the run to be {script}", timeout=120)
    await stack.github.comment_on(REPOSITORY, number, "/patchbot stop", by=MAINTAINER)

    # Well before the agent's two-minute command could end on its own.
    run = await stack.finished_run(REPOSITORY, number, timeout=30)
    assert run.state is RunState.CANCELLED, run.summary
    assert await asyncio.to_thread(sandbox_containers, mine) == []
    repo = stack.github.repo(REPOSITORY)
    assert repo.pulls == {}
    assert branches(stack) == ["refs/heads/main"]
    comments = status_comments(stack, number)
    assert len(comments) == 1, [comment.body for comment in comments]
    assert f"**Patchbot stopped** run #{run.id}, as asked" in comments[0].body
    assert "is working on this issue" not in comments[0].body
