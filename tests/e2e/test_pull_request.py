"""Label → pull request through the GitHub simulator, the scripted model over litellm's real
HTTP path and real Docker sandboxes: a verified fix; a wrong fix that escalates, then a retry;
GitHub answering 502 and 429 or holding a comment back; a run outliving its token."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from bot.runs.models import Run, RunState
from bot.testing.stack import MAINTAINER, LocalStack
from tests.e2e.conftest import (
    REPOSITORY,
    StartStack,
    branches,
    eventually,
    git_show,
    status_comments,
    trace_events,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]
EVEN_TEST = "tests/test_stats.py::test_median_of_even_count"


async def assert_one_verified_pull_request(stack: LocalStack, number: int, run_id: int) -> None:
    """One open PR fixing the issue, its tests' evidence, a passing check on its head commit,
    and one status comment that links to it."""
    repo = stack.github.repo(REPOSITORY)
    assert len(repo.pulls) == 1, [pull.head for pull in repo.pulls.values()]
    pull = next(iter(repo.pulls.values()))
    assert pull.state == "open" and pull.base == "main"
    assert pull.head.startswith(f"patchbot/issue-{number}-median-is-wrong")
    body = pull.body or ""
    assert f"Fixes #{number}" in body
    assert "**Before:** 4 passed, 0 failed → **after:** 5 passed, 0 failed" in body
    proven = f"| proven by failing first | 1 | `{EVEN_TEST}` (failed without the fix) |"
    assert proven in body and "- without the fix: 4 passed, 1 failed" in body
    assert f"run #{run_id}" in body

    head = await stack.github.branch_sha(REPOSITORY, pull.head)
    assert head is not None
    fixed = git_show(repo.path, "show", f"{head}:stats/__init__.py")
    assert "(ordered[middle - 1] + ordered[middle]) / 2" in fixed
    assert f"Patchbot-Run: {run_id}" in git_show(repo.path, "log", "-1", "--format=%B", head)
    assert branches(stack) == ["refs/heads/main", f"refs/heads/{pull.head}"]

    checks = [check for check in repo.check_runs.values() if check.name == "patchbot/verify"]
    assert [(c.head_sha, c.status, c.conclusion) for c in checks] == [
        (head, "completed", "success")
    ]
    assert EVEN_TEST in (checks[0].output.get("summary") or "")

    comments = status_comments(stack, number)
    assert len(comments) == 1, [comment.body for comment in comments]
    pr_url = f"{stack.github.url}/{REPOSITORY}/pull/{pull.number}"
    assert f"**Patchbot opened {pr_url}**" in comments[0].body
    assert "is working on this issue" not in comments[0].body
    assert comments[0].user.login == "patchbot[bot]"


async def test_label_opens_one_pull_request_with_verified_tests_and_a_passing_check(
    start_stack: StartStack,
) -> None:
    stack, number = await start_stack("fix_median")
    await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
    run = await stack.finished_run(REPOSITORY, number, timeout=180)
    assert run.state is RunState.SUCCEEDED, run.summary
    await assert_one_verified_pull_request(stack, number, run.id)
    assert run.summary == f"opened {stack.github.url}/{REPOSITORY}/pull/{number + 1}"
    assert stack.model.model.remaining == 0
    kinds = [event["kind"] for event in trace_events(stack, run.id)]
    assert kinds.count("pull_request") == 1 and kinds[-1] == "finished"


async def test_wrong_fix_escalates_with_the_reason_and_pushes_nothing_until_a_retry_fixes_it(
    start_stack: StartStack,
) -> None:
    stack, number = await start_stack("wrong_median", "fix_median")
    await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
    run = await stack.finished_run(REPOSITORY, number, timeout=180)

    assert run.state is RunState.ESCALATED, run.summary
    assert stack.model.model.remaining == 5  # every attempt resumed the one conversation
    verdicts = [e for e in trace_events(stack, run.id) if e["kind"] == "verification"]
    assert [(e["attempt"], e["accepted"]) for e in verdicts] == [(1, False), (2, False), (3, False)]
    repo = stack.github.repo(REPOSITORY)
    assert repo.pulls == {}
    assert branches(stack) == ["refs/heads/main"]
    assert repo.check_runs == {}
    assert "patchbot:needs-human" in repo.issues[number].labels

    comments = status_comments(stack, number)
    assert len(comments) == 1, [comment.body for comment in comments]
    text = comments[0].body
    assert "Patchbot could not fix this issue on its own" in text
    assert "attempt 3 of 3 rejected: 1 broken test(s)" in text
    assert "test_median_of_odd_count" in text and "no attempts left" in text
    assert "**What it tried:** 3 verified attempt(s)" in text
    assert "median() takes the upper middle value." in text
    assert "Nothing was pushed" in text and "/patchbot retry" in text

    # The way out the comment offers: a retry, which this time the agent gets right.
    await stack.github.comment_on(REPOSITORY, number, "/patchbot retry", by=MAINTAINER)

    async def retry_run() -> Run | None:
        latest = await stack.store.latest_run(REPOSITORY, number)
        return latest if latest is not None and latest.id != run.id else None

    await eventually(retry_run, "the retry's run", timeout=30)
    retried = await stack.finished_run(REPOSITORY, number, timeout=180)
    assert retried.id != run.id and retried.trigger == "retry"
    assert retried.state is RunState.SUCCEEDED, retried.summary
    assert "patchbot:needs-human" not in repo.issues[number].labels
    assert len(repo.pulls) == 1
    assert [c.body.splitlines()[0] for c in status_comments(stack, number)] == [
        f"<!-- patchbot:status run={run.id} -->",
        f"<!-- patchbot:status run={retried.id} -->",
    ]
    assert "could not fix this issue" in status_comments(stack, number)[0].body


def statuses(stack: LocalStack, method: str, pattern: str) -> list[int]:
    """The simulator's answers to the requests matching `method` and the path glob."""
    return [
        request.status
        for request in stack.github.requests
        if request.method == method and fnmatchcase(request.path, pattern)
    ]


async def test_502_and_429_from_github_are_retried_and_the_run_succeeds(
    start_stack: StartStack,
) -> None:
    stack, number = await start_stack("fix_median")
    faults = stack.github.faults
    faults.server_error("/repos/*/pulls", status=502, times=2, method="POST")
    faults.secondary_rate_limit("/repos/*/check-runs", status=429, retry_after=1, method="POST")
    # The status comment's edits: the first answers 502, the next 429.
    faults.server_error("/repos/*/issues/comments/*", status=502, method="PATCH")
    faults.secondary_rate_limit(
        "/repos/*/issues/comments/*", status=429, retry_after=1, method="PATCH"
    )
    await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
    run = await stack.finished_run(REPOSITORY, number, timeout=180)

    assert run.state is RunState.SUCCEEDED, run.summary
    assert all(fault.hits == fault.times for fault in faults.pending)
    assert statuses(stack, "POST", "/repos/octo/stats/pulls") == [502, 502, 201]
    assert statuses(stack, "POST", "/repos/octo/stats/check-runs") == [429, 201]
    edits = statuses(stack, "PATCH", "/repos/octo/stats/issues/comments/*")
    assert edits[:3] == [502, 429, 200] and edits[-1] == 200
    await assert_one_verified_pull_request(stack, number, run.id)


async def test_queued_comment_held_back_by_github_stays_the_one_status_comment(
    start_stack: StartStack,
) -> None:
    stack, number = await start_stack("fix_median")
    # GitHub holds back the intake's "queued" comment (which later steps edit) for a second.
    stack.github.faults.secondary_rate_limit(
        "/repos/*/issues/*/comments", status=429, retry_after=1, method="POST"
    )
    await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
    run = await stack.finished_run(REPOSITORY, number, timeout=180)

    assert run.state is RunState.SUCCEEDED, run.summary
    assert statuses(stack, "POST", f"/repos/octo/stats/issues/{number}/comments")[:2] == [429, 201]
    # Meanwhile the worker claimed the run: it must not post a second status comment.
    await assert_one_verified_pull_request(stack, number, run.id)


async def test_run_that_outlives_its_installation_token_still_pushes(
    start_stack: StartStack,
) -> None:
    # GitHub's tokens last an hour, and a run may take longer (agent time limit, set-up and
    # test timeouts for the baseline and three verifications); here they last 3 seconds.
    stack, number = await start_stack("fix_median")
    stack.github.set_token_lifetime(3)
    await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
    run = await stack.finished_run(REPOSITORY, number, timeout=180)

    assert run.state is RunState.SUCCEEDED, run.summary
    await assert_one_verified_pull_request(stack, number, run.id)
