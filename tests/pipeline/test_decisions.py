"""The run pipeline's decisions without Docker: the pipeline is given a host-folder sandbox
(`bot.testing.host_sandbox`, our own example repository's tests run by this Python) and the
scripted model, and everything else is real: the GitHub simulator, webhooks, the store, the
worker, the policy, the gates and verification. The same paths with real sandboxes are in
tests/e2e and tests/containment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.agent.scripted import load_trajectory
from bot.pipeline.run import GitHubPipeline
from bot.runs.models import Run, RunState
from bot.testing.host_sandbox import host_sandbox
from bot.testing.stack import MAINTAINER, LocalStack

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "examples" / "buggy_stats"
TRAJECTORIES = (ROOT / "bot" / "agent" / "trajectories", ROOT / "tests" / "e2e" / "trajectories")
WORKFLOW_FIX = ROOT / "tests" / "containment" / "fix_with_workflow.jsonl"
REPOSITORY = "octo/stats"
REVIEWER = "reviewer"

Start = Callable[..., Awaitable[tuple[LocalStack, int]]]


def script(name: str) -> Path:
    return next(d / f"{name}.jsonl" for d in TRAJECTORIES if (d / f"{name}.jsonl").exists())


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """Start a stack replaying the given trajectory files, with the demo repository and its
    issue labelled by the maintainer; gives (stack, issue number)."""
    stacks: list[LocalStack] = []

    async def started(*paths: Path) -> tuple[LocalStack, int]:
        messages = [message for path in paths for message in load_trajectory(path)]
        pipeline = GitHubPipeline(open_sandbox=host_sandbox)
        stack = LocalStack(tmp_path / "stack", messages, pipeline=pipeline)
        await stack.__aenter__()
        stacks.append(stack)
        title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
        number = await stack.seed(REPOSITORY, EXAMPLE, title.strip(), body.strip())
        stack.github.add_collaborator(REPOSITORY, REVIEWER, "write")
        await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
        return stack, number

    yield started
    for stack in stacks:
        await stack.__aexit__(None, None, None)


def comments_with(stack: LocalStack, number: int, marker: str) -> list[str]:
    comments = stack.github.repo(REPOSITORY).comments_on(number)
    return [comment.body for comment in comments if marker in comment.body]


async def test_a_verified_fix_opens_one_pull_request_with_the_sandbox_gate_passed(
    start: Start,
) -> None:
    stack, number = await start(script("fix_median"))
    run = await stack.finished_run(REPOSITORY, number, timeout=120)
    assert run.state is RunState.SUCCEEDED, run.summary
    [pull] = stack.github.repo(REPOSITORY).pulls.values()
    body = pull.body or ""
    assert f"Fixes #{number}" in body
    assert "| proven by failing first | 1 |" in body
    assert "| sandbox | ✅ allow |" in body, body
    [outcome] = await stack.store.pull_outcomes()
    assert outcome.changed_files and all(path.endswith(".py") for path in outcome.changed_files)


async def test_a_change_a_gate_holds_waits_for_an_approver_then_publishes_the_kept_patch(
    start: Start,
) -> None:
    stack, number = await start(WORKFLOW_FIX)
    paused = await stack.finished_run(REPOSITORY, number, timeout=120, until_paused=True)
    assert paused.state is RunState.AWAITING_APPROVAL, paused.summary
    repo = stack.github.repo(REPOSITORY)
    assert repo.pulls == {}
    [status] = comments_with(stack, number, "patchbot:status")
    assert "waiting for approval" in status and ".github/workflows/tests.yml" in status

    await stack.github.comment_on(REPOSITORY, number, "/patchbot approve", by=REVIEWER)
    run = await stack.finished_run(REPOSITORY, number, timeout=60)
    assert run.state is RunState.SUCCEEDED, run.summary
    [pull] = repo.pulls.values()
    assert f"Approved by @{REVIEWER}" in (pull.body or "")
    assert stack.model.model.remaining == 0  # the approved run did not run the agent again


async def test_an_agent_that_gives_up_escalates_and_pushes_nothing(start: Start) -> None:
    stack, number = await start(script("gives_up"))
    run = await stack.finished_run(REPOSITORY, number, timeout=120)
    assert run.state is RunState.ESCALATED, run.summary
    repo = stack.github.repo(REPOSITORY)
    assert repo.pulls == {} and repo.check_runs == {}
    assert "patchbot:needs-human" in repo.issues[number].labels
    [status] = comments_with(stack, number, "patchbot:status")
    assert "Patchbot could not fix this issue on its own" in status
    assert "Nothing was pushed" in status


async def test_a_retry_of_a_run_that_failed_to_publish_pushes_its_patch_without_the_agent(
    start: Start,
) -> None:
    # GitHub refuses every pull request until the run has failed; the patch was verified.
    stack, _ = await start(script("fix_median"))
    failing = stack.github.faults.server_error("/repos/*/pulls", method="POST", times=10_000)
    run: Run = await stack.finished_run(REPOSITORY, 1, timeout=180)
    assert run.state is RunState.FAILED, run.summary
    assert stack.github.repo(REPOSITORY).pulls == {}
    calls = stack.model.model.remaining

    failing.times = failing.hits  # GitHub is back
    await stack.github.comment_on(REPOSITORY, 1, "/patchbot retry", by=MAINTAINER)
    retried = run
    while retried.id == run.id or retried.state.active:
        retried = await stack.finished_run(REPOSITORY, 1, timeout=60)
    assert retried.trigger == "retry" and retried.state is RunState.SUCCEEDED, retried.summary
    assert len(stack.github.repo(REPOSITORY).pulls) == 1
    assert stack.model.model.remaining == calls  # the kept patch, not a second agent run
