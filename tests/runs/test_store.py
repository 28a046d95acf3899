"""The RunStore contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.runs import migrations
from bot.runs.models import (
    ActiveRunExists,
    Delivery,
    Installation,
    LeaseLost,
    NewFeedback,
    NewRun,
    RunState,
)
from bot.runs.store import RunStore, open_store
from tests.stores import execute_sql


def new_run(issue: int = 1, delivery_id: str | None = None, **revision: Any) -> NewRun:
    """A first run; with `pull_request=`, `iteration=`, `not_before=`, a revision run."""
    return NewRun(
        repository="octo/hello",
        issue=issue,
        requester="alice",
        trigger="review" if "pull_request" in revision else "comment",
        instructions="fix it",
        installation_id=42,
        delivery_id=delivery_id,
        **revision,
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


async def test_a_trigger_is_claimed_once_whatever_the_delivery_id(store: RunStore) -> None:
    claims = await asyncio.gather(*(store.claim_trigger("comment:7", f"d-{n}") for n in range(5)))
    assert sorted(claims) == [False, False, False, False, True]
    first = claims.index(True)
    assert await store.claim_trigger("comment:7", f"d-{first}")  # its own delivery, again
    assert not await store.claim_trigger("comment:7", "d-replayed")
    assert await store.claim_trigger("comment:8", "d-replayed")


async def test_replies_are_allowed_once_per_interval(store: RunStore) -> None:
    assert await store.allow_reply("reply:octo/a#1:busy", 0.3)
    assert not await store.allow_reply("reply:octo/a#1:busy", 0.3)
    assert await store.allow_reply("reply:octo/a#2:busy", 0.3)  # another issue
    await asyncio.sleep(0.35)
    assert await store.allow_reply("reply:octo/a#1:busy", 0.3)


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


async def test_revision_run_keeps_its_pull_request_iteration_and_wait(store: RunStore) -> None:
    first, _ = await store.create_run(new_run())
    assert (first.pull_request, first.iteration, first.not_before) == (None, 0, None)
    wait_until = time.time() + 60
    run, _ = await store.create_run(
        new_run(issue=2, pull_request=7, iteration=2, not_before=wait_until)
    )
    assert (run.trigger, run.pull_request, run.iteration, run.not_before) == (
        "review",
        7,
        2,
        wait_until,
    )
    assert await store.get_run(run.id) == run


async def test_claim_skips_a_run_until_its_not_before(store: RunStore) -> None:
    now = time.time()
    waiting, _ = await store.create_run(new_run(issue=1, pull_request=7, not_before=now + 0.15))
    due, _ = await store.create_run(new_run(issue=2, pull_request=8, not_before=now - 1))
    first = await store.claim_run("w1", lease_seconds=30, max_attempts=3)
    assert first is not None and first.id == due.id
    assert await store.claim_run("w1", lease_seconds=30, max_attempts=3) is None
    await asyncio.sleep(0.2)
    later = await store.claim_run("w1", lease_seconds=30, max_attempts=3)
    assert later is not None and later.id == waiting.id


async def test_postpone_only_moves_a_queued_run_later(store: RunStore) -> None:
    now = time.time()
    run, _ = await store.create_run(new_run(issue=1, pull_request=7, not_before=now + 60))
    kept = await store.postpone_run(run.id, now + 30)
    assert kept is not None and kept.not_before == now + 60
    moved = await store.postpone_run(run.id, now + 120)
    assert moved is not None and moved.not_before == now + 120
    free, _ = await store.create_run(new_run(issue=2, pull_request=8))
    set_now = await store.postpone_run(free.id, now + 10)
    assert set_now is not None and set_now.not_before == now + 10
    assert await store.claim_run("w1", lease_seconds=30, max_attempts=3) is None


async def test_postpone_of_a_run_a_worker_took_gives_none(store: RunStore) -> None:
    run, _ = await store.create_run(new_run(pull_request=7))
    await store.claim_run("w1", lease_seconds=30, max_attempts=3)
    assert await store.postpone_run(run.id, time.time() + 60) is None
    assert await store.postpone_run(run.id + 1000, time.time() + 60) is None
    still = await store.get_run(run.id)
    assert still is not None and still.not_before is None


async def test_pull_runs_lists_the_revision_runs_of_one_pull_request(store: RunStore) -> None:
    first, _ = await store.create_run(new_run(issue=1))
    await store.cancel_run(first.id)
    one, _ = await store.create_run(new_run(issue=1, pull_request=10, iteration=1))
    await store.cancel_run(one.id)
    await store.create_run(new_run(issue=2, pull_request=11, iteration=1))
    await store.create_run(
        NewRun(repository="octo/other", issue=1, requester="bob", trigger="ci", pull_request=10)
    )
    two, _ = await store.create_run(new_run(issue=1, pull_request=10, iteration=2))
    runs = await store.pull_runs("octo/hello", 10)
    assert [(run.id, run.iteration) for run in runs] == [(one.id, 1), (two.id, 2)]


async def test_a_version_2_database_upgrades_and_keeps_its_runs(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old_release:
        old_release.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
        await (await open_store(database_url)).close()
    await execute_sql(
        database_url,
        "INSERT INTO runs (repository, issue, requester, trigger_kind, state, created_at, "
        "updated_at) VALUES ('octo/hello', 3, 'alice', 'label', 'queued', 1.0, 1.0)",
    )
    upgraded = await open_store(database_url)
    try:
        [run] = await upgraded.list_runs()
        assert (run.repository, run.issue, run.trigger, run.state) == (
            "octo/hello",
            3,
            "label",
            RunState.QUEUED,
        )
        assert (run.pull_request, run.iteration, run.not_before) == (None, 0, None)
        claimed = await upgraded.claim_run("w1", lease_seconds=30, max_attempts=3)
        assert claimed is not None and claimed.id == run.id
        item = NewFeedback(
            repository="octo/hello", pull_request=5, kind="comment", author="bob", source_id=1
        )
        assert await upgraded.add_feedback(item)
    finally:
        await upgraded.close()


async def test_writes_never_fail_while_reads_and_deliveries_interleave(store: RunStore) -> None:
    """Reads, webhook deliveries and feedback writes at once: every write lands (on SQLite, a
    read left open across an await once made writes fail with "database is locked")."""
    await store.record_delivery(delivery("known"))

    async def deliveries(prefix: str) -> None:
        for index in range(150):
            await store.record_delivery(delivery(f"{prefix}-{index}"))

    async def reads() -> None:
        for _ in range(150):
            assert await store.get_delivery("known") is not None

    async def feedback(offset: int) -> None:
        for index in range(100):
            item = NewFeedback(
                repository="octo/hello",
                pull_request=1,
                kind="line",
                author="alice",
                source_id=offset + index,
            )
            assert await store.add_feedback(item)

    await asyncio.gather(
        deliveries("a"), deliveries("b"), reads(), reads(), feedback(0), feedback(1000)
    )
    assert len(await store.pending_feedback("octo/hello", 1)) == 200


async def test_claims_keep_each_repository_and_installation_under_its_cap(
    store: RunStore,
) -> None:
    def new(repository: str, issue: int, installation: int) -> NewRun:
        return NewRun(
            repository=repository, issue=issue, requester="alice", trigger="cli",
            installation_id=installation,
        )  # fmt: skip

    for item in (new("o/a", 1, 1), new("o/a", 2, 1), new("o/a", 3, 1), new("o/b", 1, 1)):
        await store.create_run(item)
    await store.create_run(new("p/c", 1, 2))
    caps = {"per_repository": 2, "per_installation": 3}

    async def claim(worker: str) -> tuple[str, int] | None:
        run = await store.claim_run(worker, lease_seconds=30, max_attempts=3, **caps)
        return (run.repository, run.issue) if run is not None else None

    claimed = [await claim(f"w{i}") for i in range(5)]
    # o/a's third waits: its repository runs two (and its installation three).
    assert claimed == [("o/a", 1), ("o/a", 2), ("o/b", 1), ("p/c", 1), None]
    first = await store.latest_run("o/a", 1)
    assert first is not None
    await store.finish_run(first.id, "w0", RunState.SUCCEEDED)
    assert await claim("w5") == ("o/a", 3)
    await store.create_run(new("o/d", 1, 1))
    assert await claim("w6") is None  # a repository with none running, in a full installation
    assert await store.claim_run("w7", lease_seconds=30, max_attempts=3) is not None  # no caps
