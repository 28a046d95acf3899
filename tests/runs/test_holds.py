"""Runs paused for a human's approval: kept in the store, decided once, and resumable."""

from __future__ import annotations

import pytest

from bot.runs.models import ActiveRunExists, LeaseLost, NewRun, RunNotFound, RunState
from bot.runs.store import RunStore, open_store


def new_run(issue: int = 7) -> NewRun:
    return NewRun(repository="octo/demo", issue=issue, requester="alice", trigger="label")


async def held_run(store: RunStore) -> int:
    run, _ = await store.create_run(new_run())
    claimed = await store.claim_run("w1", 60, 3)
    assert claimed is not None and claimed.id == run.id
    paused = await store.hold_run(run.id, "w1", '{"patch": "diff"}', "needs approval", 0.25)
    assert paused.state is RunState.AWAITING_APPROVAL
    assert paused.lease_owner is None and paused.finished_at is None
    assert paused.cost_usd == pytest.approx(0.25)
    return run.id


async def test_a_held_run_keeps_the_issue_busy_and_is_not_claimed(store: RunStore) -> None:
    await held_run(store)
    with pytest.raises(ActiveRunExists):
        await store.create_run(new_run())
    assert await store.claim_run("w2", 60, 3) is None


async def test_approval_queues_the_run_again_and_records_who_and_when(store: RunStore) -> None:
    run_id = await held_run(store)
    approved = await store.decide(run_id, "bob", "approved")
    assert approved.state is RunState.QUEUED
    hold = await store.get_hold(run_id)
    assert hold is not None and hold.content == '{"patch": "diff"}'
    assert hold.decision == "approved" and hold.decided_by == "bob"
    assert hold.decided_at is not None and hold.decided_at >= hold.held_at
    resumed = await store.claim_run("w2", 60, 3)
    assert resumed is not None and resumed.id == run_id and resumed.attempts == 2
    with pytest.raises(RunNotFound):
        await store.decide(run_id, "carol", "rejected")  # decided once


async def test_rejection_ends_the_run(store: RunStore) -> None:
    run_id = await held_run(store)
    rejected = await store.decide(run_id, "bob", "rejected")
    assert rejected.state is RunState.CANCELLED and rejected.finished_at is not None
    assert "rejected by @bob" in rejected.summary
    assert await store.claim_run("w2", 60, 3) is None
    await store.create_run(new_run())  # the issue is free again


async def test_only_the_lease_holder_can_pause_a_run(store: RunStore) -> None:
    run, _ = await store.create_run(new_run())
    await store.claim_run("w1", 60, 3)
    with pytest.raises(LeaseLost):
        await store.hold_run(run.id, "someone-else", "{}")


async def test_stop_cancels_a_run_waiting_for_approval(store: RunStore) -> None:
    run_id = await held_run(store)
    stopped = await store.cancel_run(run_id)
    assert stopped.state is RunState.CANCELLED


async def test_decision_survives_reopening_the_store(database_url: str) -> None:
    first = await open_store(database_url)
    try:
        run_id = await held_run(first)
        await first.decide(run_id, "bob", "approved")
    finally:
        await first.close()
    second = await open_store(database_url)
    try:
        hold = await second.get_hold(run_id)
        assert hold is not None and hold.decided_by == "bob"
        run = await second.get_run(run_id)
        assert run is not None and run.state is RunState.QUEUED
    finally:
        await second.close()


async def test_a_stop_asked_for_while_running_wins_over_pausing(store: RunStore) -> None:
    run, _ = await store.create_run(new_run())
    await store.claim_run("w1", 60, 3)
    await store.cancel_run(run.id)  # flagged; the worker has not seen it yet
    ended = await store.hold_run(run.id, "w1", "{}", "needs approval")
    assert ended.state is RunState.CANCELLED
    assert ended.finished_at is not None


async def test_a_kept_patch_outlives_the_attempt_and_leaves_the_run_running(
    store: RunStore,
) -> None:
    run, _ = await store.create_run(new_run())
    claimed = await store.claim_run("w1", lease_seconds=30, max_attempts=3)
    assert claimed is not None
    with pytest.raises(LeaseLost):
        await store.keep_hold(run.id, "someone-else", "{}")
    await store.keep_hold(run.id, "w1", '{"patch": "first"}')
    await store.keep_hold(run.id, "w1", '{"patch": "verified"}')
    current = await store.get_run(run.id)
    assert current is not None and current.state is RunState.RUNNING
    hold = await store.get_hold(run.id)
    assert hold is not None and hold.content == '{"patch": "verified"}'
    assert (hold.held_by, hold.decision) == ("w1", None)


async def test_previous_run_is_the_issue_s_latest_first_run_before_this_one(
    store: RunStore,
) -> None:
    first, _ = await store.create_run(new_run())
    await store.cancel_run(first.id)
    revision, _ = await store.create_run(
        new_run().model_copy(update={"trigger": "review", "pull_request": 9, "iteration": 1})
    )
    await store.cancel_run(revision.id)
    await store.create_run(new_run(issue=8))
    second, _ = await store.create_run(new_run())
    previous = await store.previous_run("octo/demo", 7, second.id)
    assert previous is not None and previous.id == first.id
    assert await store.previous_run("octo/demo", 7, first.id) is None
