"""A flaky network while a run clones and publishes: git is retried like REST calls, a verified
patch is kept before it is pushed, and a publication that failed anyway is finished by
`/patchbot retry` without running the agent again (and without paying for it twice)."""

from __future__ import annotations

import pytest

from bot.runs.held import HeldPatch
from bot.runs.models import RunState
from bot.testing.stack import MAINTAINER
from tests.e2e.conftest import (
    REPOSITORY,
    StartStack,
    eventually,
    status_comments,
    trace_events,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]
GIT = f"/{REPOSITORY}.git"


async def test_transient_502s_on_the_clone_and_the_push_do_not_fail_the_run(
    start_stack: StartStack,
) -> None:
    stack, number = await start_stack("fix_median")
    faults = stack.github.faults
    clone = faults.server_error(f"{GIT}/info/refs", method="GET")  # the run's first git call
    push = faults.server_error(f"{GIT}/git-receive-pack", method="POST")
    await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
    run = await stack.finished_run(REPOSITORY, number, timeout=180)
    assert run.state is RunState.SUCCEEDED, run.summary
    assert (clone.hits, push.hits) == (1, 1)
    assert stack.model.model.remaining == 0
    [pull] = stack.github.repo(REPOSITORY).pulls.values()
    assert await stack.github.branch_sha(REPOSITORY, pull.head) is not None


async def test_a_push_that_landed_but_whose_answer_was_lost_opens_one_pull_request(
    start_stack: StartStack,
) -> None:
    stack, number = await start_stack("fix_median")
    lost = stack.github.faults.answer_lost(f"{GIT}/git-receive-pack", method="POST")
    await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
    run = await stack.finished_run(REPOSITORY, number, timeout=180)
    assert run.state is RunState.SUCCEEDED, run.summary
    assert lost.hits == 1
    assert len(stack.github.repo(REPOSITORY).pulls) == 1


async def test_a_publication_that_keeps_failing_is_finished_by_a_retry_without_the_agent(
    start_stack: StartStack,
) -> None:
    stack, number = await start_stack("fix_median")  # one agent session: a second would fail
    push = stack.github.faults.server_error(f"{GIT}/git-receive-pack", method="POST", times=4)
    await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
    failed = await stack.finished_run(REPOSITORY, number, timeout=180)

    assert failed.state is RunState.FAILED, failed.summary
    assert push.hits == 4  # RetryConfig.max_attempts
    assert "could not publish the verified patch, which is kept" in failed.summary
    [status] = status_comments(stack, number)
    assert "could not publish it" in status.body and "`/patchbot retry`" in status.body
    hold = await stack.store.get_hold(failed.id)
    assert hold is not None and hold.decision is None
    kept = HeldPatch.model_validate_json(hold.content)
    assert "stats/__init__.py" in kept.patch
    assert stack.github.repo(REPOSITORY).pulls == {}
    model_calls = len(stack.model.model.requests)

    await stack.github.comment_on(REPOSITORY, number, "/patchbot retry", by=MAINTAINER)

    async def a_new_run() -> bool:
        latest = await stack.store.latest_run(REPOSITORY, number)
        return latest is not None and latest.id != failed.id

    await eventually(a_new_run, "the retry's run")
    retried = await stack.finished_run(REPOSITORY, number, timeout=120)
    assert retried.id != failed.id and retried.state is RunState.SUCCEEDED, retried.summary
    assert len(stack.model.model.requests) == model_calls  # the agent did not run again
    kinds = [event["kind"] for event in trace_events(stack, retried.id)]
    assert "resumed" in kinds and "solve_start" not in kinds
    [pull] = stack.github.repo(REPOSITORY).pulls.values()
    head = await stack.github.branch_sha(REPOSITORY, pull.head)
    checks = [c for c in stack.github.repo(REPOSITORY).check_runs.values() if c.head_sha == head]
    assert [(c.name, c.conclusion) for c in checks] == [("patchbot/verify", "success")]
