"""The RunStore contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.runs.models import ActiveRunExists, Delivery, Installation, LeaseLost, NewRun, RunState
from bot.runs.store import RunStore, open_store


def new_run(issue: int = 1, delivery_id: str | None = None) -> NewRun:
    return NewRun(
        repository="octo/hello",
        issue=issue,
        requester="alice",
        trigger="comment",
        instructions="fix it",
        installation_id=42,
        delivery_id=delivery_id,
    )


def delivery(delivery_id: str) -> Delivery:
    return Delivery(
        delivery_id=delivery_id,
        event="issues",
        action="labeled",
        installation_id=42,
        payload='{"action": "labeled"}',
        received_at=time.time(),
    )


async def test_run_is_queued_with_its_request(store: RunStore) -> None:
    run, created = await store.create_run(new_run())
    assert created
    assert run.state is RunState.QUEUED
    assert (run.repository, run.issue, run.requester, run.instructions) == (
        "octo/hello",
        1,
        "alice",
        "fix it",
    )
    assert await store.get_run(run.id) == run
    assert [r.id for r in await store.list_runs()] == [run.id]


async def test_same_delivery_creates_one_run(store: RunStore) -> None:
    first, created = await store.create_run(new_run(delivery_id="d-1"))
    again, created_again = await store.create_run(new_run(delivery_id="d-1"))
    assert created and not created_again
    assert again.id == first.id
    assert len(await store.list_runs()) == 1


async def test_second_active_run_for_an_issue_is_refused(store: RunStore) -> None:
    first, _ = await store.create_run(new_run())
    with pytest.raises(ActiveRunExists) as refused:
        await store.create_run(new_run())
    assert refused.value.run.id == first.id
    other, _ = await store.create_run(new_run(issue=2))
    assert other.id != first.id


async def test_claim_heartbeat_and_finish(store: RunStore) -> None:
    run, _ = await store.create_run(new_run())
    claimed = await store.claim_run("w1", lease_seconds=30, max_attempts=3)
    assert claimed is not None and claimed.id == run.id
    assert claimed.state is RunState.RUNNING and claimed.attempts == 1
    assert claimed.lease_owner == "w1"
    assert await store.claim_run("w2", lease_seconds=30, max_attempts=3) is None
    renewed = await store.heartbeat(run.id, "w1", lease_seconds=60)
    assert renewed.lease_expires_at is not None and claimed.lease_expires_at is not None
    assert renewed.lease_expires_at > claimed.lease_expires_at
    with pytest.raises(LeaseLost):
        await store.heartbeat(run.id, "w2", lease_seconds=60)
    done = await store.finish_run(run.id, "w1", RunState.SUCCEEDED, "done", cost_usd=0.25)
    assert done.state is RunState.SUCCEEDED and done.cost_usd == 0.25
    assert done.lease_owner is None and done.finished_at is not None
    # The issue is free again once its run has finished.
    await store.create_run(new_run())


async def test_expired_lease_is_claimed_by_another_worker(store: RunStore) -> None:
    run, _ = await store.create_run(new_run())
    assert await store.claim_run("w1", lease_seconds=0.2, max_attempts=3) is not None
    assert await store.claim_run("w2", lease_seconds=30, max_attempts=3) is None
    await asyncio.sleep(0.3)
    taken = await store.claim_run("w2", lease_seconds=30, max_attempts=3)
    assert taken is not None and taken.id == run.id
    assert taken.lease_owner == "w2" and taken.attempts == 2
    with pytest.raises(LeaseLost):
        await store.finish_run(run.id, "w1", RunState.SUCCEEDED)
    finished = await store.finish_run(run.id, "w2", RunState.SUCCEEDED)
    assert finished.state is RunState.SUCCEEDED


async def test_run_whose_workers_keep_dying_fails(store: RunStore) -> None:
    run, _ = await store.create_run(new_run())
    assert await store.claim_run("w1", lease_seconds=0.1, max_attempts=1) is not None
    await asyncio.sleep(0.2)
    assert await store.claim_run("w2", lease_seconds=30, max_attempts=1) is None
    failed = await store.get_run(run.id)
    assert failed is not None and failed.state is RunState.FAILED
    assert "retry" in failed.summary


async def test_concurrent_claims_take_each_run_once(store: RunStore) -> None:
    for issue in range(6):
        await store.create_run(new_run(issue=issue))
    claims = await asyncio.gather(
        *(store.claim_run(f"w{n}", lease_seconds=30, max_attempts=3) for n in range(10))
    )
    taken = [run.id for run in claims if run is not None]
    assert len(taken) == 6 and len(set(taken)) == 6


async def test_cancel_queued_run_is_immediate(store: RunStore) -> None:
    run, _ = await store.create_run(new_run())
    cancelled = await store.cancel_run(run.id)
    assert cancelled.state is RunState.CANCELLED
    assert await store.claim_run("w1", lease_seconds=30, max_attempts=3) is None


async def test_cancel_running_run_flags_it_for_its_worker(store: RunStore) -> None:
    run, _ = await store.create_run(new_run())
    await store.claim_run("w1", lease_seconds=30, max_attempts=3)
    flagged = await store.cancel_run(run.id)
    assert flagged.state is RunState.RUNNING and flagged.cancel_requested
    seen = await store.heartbeat(run.id, "w1", lease_seconds=30)
    assert seen.cancel_requested


async def test_cancelled_run_of_a_dead_worker_is_not_restarted(store: RunStore) -> None:
    run, _ = await store.create_run(new_run())
    await store.claim_run("w1", lease_seconds=0.1, max_attempts=3)
    await store.cancel_run(run.id)
    await asyncio.sleep(0.2)
    assert await store.claim_run("w2", lease_seconds=30, max_attempts=3) is None
    stopped = await store.get_run(run.id)
    assert stopped is not None and stopped.state is RunState.CANCELLED


async def test_delivery_is_recorded_once(store: RunStore) -> None:
    results = await asyncio.gather(*(store.record_delivery(delivery("d-1")) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert await store.record_delivery(delivery("d-2"))
    assert await store.known_deliveries(["d-1", "d-2", "d-3"]) == {"d-1", "d-2"}
    stored = await store.get_delivery("d-1")
    assert stored is not None and stored.payload == '{"action": "labeled"}'


async def test_processed_deliveries_leave_the_backlog(store: RunStore) -> None:
    for n in range(3):
        await store.record_delivery(delivery(f"d-{n}"))
    await store.mark_delivery_processed("d-1")
    await store.mark_delivery_processed("d-2", error="boom")
    backlog = await store.unprocessed_deliveries()
    assert [d.delivery_id for d in backlog] == ["d-0"]
    failed = await store.get_delivery("d-2")
    assert failed is not None and failed.error == "boom" and failed.processed_at


async def test_installation_is_saved_updated_and_deleted(store: RunStore) -> None:
    await store.save_installation(Installation(id=7, account="octo", repositories=["octo/a"]))
    await store.save_installation(
        Installation(id=7, account="octo", repositories=["octo/a", "octo/b"], suspended=True)
    )
    saved = await store.get_installation(7)
    assert saved is not None and saved.repositories == ["octo/a", "octo/b"] and saved.suspended
    await store.delete_installation(7)
    assert await store.get_installation(7) is None


async def test_reopening_the_store_keeps_data_and_migrations(database_url: str) -> None:
    first = await open_store(database_url)
    run, _ = await first.create_run(new_run())
    await first.close()
    second = await open_store(database_url)
    try:
        assert await second.get_run(run.id) == run
    finally:
        await second.close()
