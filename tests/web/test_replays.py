"""A captured, signed webhook body sent again under a new `X-GitHub-Delivery` id: a trigger is
acted on once (a comment by its id, a label event by when it happened), replies to repeated
triggers are rate-limited per issue, and a maintainer's new comment or new label still counts."""

from __future__ import annotations

from typing import Any

from bot.runs.models import RunState
from bot.runs.store import RunStore
from bot.testing.simulator import GitHubSimulator
from tests.simulated import COMMENTS, ISSUE, REACTIONS, REPO_NAME

LABELED_AT = "2026-01-05T10:00:00Z"


async def comment(github: GitHubSimulator, body: str, login: str = "alice") -> dict[str, Any]:
    """The payload of a new comment of `login`'s on the issue (made, not delivered)."""
    made = github.add_comment(REPO_NAME, ISSUE, body, author=login)
    return await github.payload(
        "issue_comment", "created", REPO_NAME, sender=login, issue=ISSUE, comment=made
    )


async def labeled(github: GitHubSimulator, at: str = LABELED_AT) -> dict[str, Any]:
    """The payload of alice's adding the trigger label, the issue last changed `at` (the label
    is put on, nothing is delivered)."""
    repo = github.repo(REPO_NAME)
    issue = repo.issues[ISSUE]
    github.state.label(repo, "patchbot")
    if "patchbot" not in issue.labels:
        issue.labels.append("patchbot")
    issue.updated_at = at
    return await github.payload(
        "issues", "labeled", REPO_NAME, sender="alice", issue=ISSUE, label="patchbot"
    )


async def deliver(intake: Any, event: str, payload: dict[str, Any], delivery_id: str) -> None:
    response = await intake.post(event, payload, delivery_id=delivery_id)
    assert response.status == 200 and (await response.json())["status"] == "accepted"
    await intake.settle()
    stored = await intake.store.get_delivery(delivery_id)
    assert stored is not None and stored.error is None, stored


async def end_runs(store: RunStore) -> None:
    """A worker takes each queued run and it ends (paid for, whatever came of it)."""
    while (run := await store.claim_run("worker", 60, 3)) is not None:
        await store.finish_run(run.id, "worker", RunState.SUCCEEDED, "done", cost_usd=1.5)


async def test_a_replayed_fix_comment_starts_no_second_run_after_the_first_ended(
    intake: Any,
) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", REACTIONS, status=201)
    fix = await comment(intake.github, "/patchbot fix")
    await deliver(intake, "issue_comment", fix, "original")
    await end_runs(intake.store)

    for n in range(3):  # the same signed body, new delivery ids
        await deliver(intake, "issue_comment", fix, f"replay-{n}")

    assert len(await intake.store.list_runs()) == 1
    assert len(intake.gh.calls_to("POST", REACTIONS)) == 1
    assert intake.gh.calls_to("POST", COMMENTS) == []


async def test_a_new_retry_comment_after_the_run_ended_is_a_new_trigger(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", REACTIONS, status=201)
    await deliver(intake, "issue_comment", await comment(intake.github, "/patchbot fix"), "first")
    await end_runs(intake.store)
    retry = await comment(intake.github, "/patchbot retry")
    await deliver(intake, "issue_comment", retry, "second")
    runs = await intake.store.list_runs()
    assert [run.trigger for run in runs] == ["retry", "comment"]


async def test_a_replayed_label_event_starts_no_second_run_but_a_new_label_event_does(
    intake: Any,
) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", COMMENTS, status=201)
    first = await labeled(intake.github)
    await deliver(intake, "issues", first, "labeled")
    await end_runs(intake.store)
    await deliver(intake, "issues", first, "replayed")
    assert len(await intake.store.list_runs()) == 1

    # The maintainer removes the label and adds it again: GitHub's issue changed since.
    again = await labeled(intake.github, "2026-01-05T11:30:00Z")
    await deliver(intake, "issues", again, "labeled-again")
    assert len(await intake.store.list_runs()) == 2
    assert len(intake.gh.calls_to("POST", COMMENTS)) == 2  # one "queued" comment per run


async def test_replays_during_a_run_post_nothing(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", COMMENTS, status=201)
    intake.gh.reply("POST", REACTIONS, status=201)
    label = await labeled(intake.github)
    fix = await comment(intake.github, "/patchbot fix")
    await deliver(intake, "issues", label, "labeled")
    await deliver(intake, "issue_comment", fix, "fix")  # busy: told
    for n in range(5):
        await deliver(intake, "issues", label, f"label-replay-{n}")
        await deliver(intake, "issue_comment", fix, f"fix-replay-{n}")
    [run] = await intake.store.list_runs()
    assert run.state is RunState.QUEUED
    posted = [call.body["body"] for call in intake.gh.calls_to("POST", COMMENTS)]
    assert len(posted) == 2 and "queued run" in posted[0] and "already queued" in posted[1]


async def test_replies_to_repeated_triggers_are_rate_limited_per_issue(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.allow("mallory", "read")
    intake.gh.reply("POST", COMMENTS, status=201)
    await deliver(intake, "issues", await labeled(intake.github), "labeled")
    for n in range(4):  # new comments, each a genuine trigger, while the run is queued
        fix = await comment(intake.github, "/patchbot fix")
        await deliver(intake, "issue_comment", fix, f"fix-{n}")
        refused = await comment(intake.github, "/patchbot fix", "mallory")
        await deliver(intake, "issue_comment", refused, f"no-{n}")
    posted = [call.body["body"] for call in intake.gh.calls_to("POST", COMMENTS)]
    assert len(posted) == 3, posted  # queued; then one "busy" and one refusal, not four each
    assert sum("already queued" in body for body in posted) == 1
    assert sum("@mallory only people with" in body for body in posted) == 1
    assert len(await intake.store.list_runs()) == 1


async def test_a_failed_delivery_redelivered_under_its_own_id_is_still_acted_on(
    intake: Any,
) -> None:
    fix = await comment(intake.github, "/patchbot fix")
    response = await intake.post("issue_comment", fix, delivery_id="flaky")
    assert response.status == 200
    await intake.settle()  # fails: GitHub's permission answer is not scripted yet
    assert await intake.store.list_runs() == []
    intake.allow("alice", "write")
    intake.gh.reply("POST", REACTIONS, status=201)
    await deliver(intake, "issue_comment", fix, "flaky")
    assert len(await intake.store.list_runs()) == 1
