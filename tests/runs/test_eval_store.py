"""Scheduled evaluations in the store, on SQLite and PostgreSQL alike: a repeating run queues
its next when it ends (in the same transaction, never twice, never after a stop), and each
evaluation's result is kept per repository for the next to be compared with."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.runs.evals import EVAL_ISSUE, EvalRecord
from bot.runs.models import NewRun, RunState
from bot.runs.store import RunStore

WEEK = 604_800.0


def scheduled(repository: str = "octo/hello") -> NewRun:
    return NewRun(
        repository=repository,
        issue=EVAL_ISSUE,
        requester="patchbot",
        trigger="eval",
        installation_id=42,
        repeat_seconds=WEEK,
    )


async def test_a_repeating_run_queues_its_next_once_it_ends(store: RunStore) -> None:
    first, _ = await store.create_run(scheduled())
    claimed = await store.claim_run("w1", lease_seconds=30, max_attempts=3)
    assert claimed is not None and claimed.id == first.id
    before = time.time()
    done = await store.finish_run(first.id, "w1", RunState.SUCCEEDED, "evaluated", cost_usd=0.5)
    assert done.state is RunState.SUCCEEDED

    following = await store.active_run("octo/hello", EVAL_ISSUE)
    assert following is not None and following.id != first.id
    assert (following.state, following.trigger, following.repeat_seconds) == (
        RunState.QUEUED,
        "eval",
        WEEK,
    )
    assert following.not_before is not None
    assert before + WEEK <= following.not_before <= time.time() + WEEK
    assert await store.claim_run("w2", lease_seconds=30, max_attempts=3) is None  # not due


async def test_a_failed_run_repeats_too_but_a_stopped_one_ends_its_schedule(
    store: RunStore,
) -> None:
    failed, _ = await store.create_run(scheduled("octo/a"))
    assert await store.claim_run("w1", lease_seconds=30, max_attempts=3) is not None
    await store.finish_run(failed.id, "w1", RunState.FAILED, "no tasks file", cost_usd=None)
    assert await store.active_run("octo/a", EVAL_ISSUE) is not None

    stopped, _ = await store.create_run(scheduled("octo/b"))
    assert await store.claim_run("w1", lease_seconds=30, max_attempts=3) is not None
    await store.cancel_run(stopped.id)
    await store.finish_run(stopped.id, "w1", RunState.CANCELLED, "stopped by request")
    assert await store.active_run("octo/b", EVAL_ISSUE) is None


async def test_a_run_whose_workers_all_died_repeats_too(store: RunStore) -> None:
    given_up, _ = await store.create_run(scheduled())
    assert await store.claim_run("w1", lease_seconds=0.01, max_attempts=1) is not None
    await asyncio.sleep(0.05)  # w1 died: its lease runs out
    assert await store.claim_run("w2", lease_seconds=30, max_attempts=1) is None  # not due
    failed = await store.get_run(given_up.id)
    assert failed is not None and failed.state is RunState.FAILED
    following = await store.active_run("octo/hello", EVAL_ISSUE)
    assert following is not None and following.not_before is not None
    assert following.not_before >= time.time() + WEEK - 60


async def test_a_scheduled_run_waiting_for_its_time_is_not_ahead_in_the_queue(
    store: RunStore,
) -> None:
    await store.create_run(scheduled().model_copy(update={"not_before": time.time() + WEEK}))
    issue, _ = await store.create_run(
        NewRun(repository="octo/hello", issue=7, requester="alice", trigger="label")
    )
    assert await store.runs_ahead(issue.id) == 0
    await store.create_run(scheduled("octo/due").model_copy(update={"not_before": 1.0}))
    later, _ = await store.create_run(
        NewRun(repository="octo/hello", issue=8, requester="alice", trigger="label")
    )
    assert await store.runs_ahead(later.id) == 2  # issue 7's run, and the one that is due


async def test_a_run_that_does_not_repeat_queues_nothing(store: RunStore) -> None:
    once, _ = await store.create_run(scheduled().model_copy(update={"repeat_seconds": None}))
    assert await store.claim_run("w1", lease_seconds=30, max_attempts=3) is not None
    await store.finish_run(once.id, "w1", RunState.SUCCEEDED)
    assert await store.active_run("octo/hello", EVAL_ISSUE) is None


def record(run_id: int, repository: str, finished_at: float, resolved: int) -> EvalRecord:
    return EvalRecord(
        run_id=run_id,
        repository=repository,
        finished_at=finished_at,
        model="oracle",
        tasks=4,
        runs=4,
        resolved=resolved,
        accepted=resolved,
        accepted_unresolved=0,
        refused_resolved=0,
        resolve_rate=resolved / 4,
        cost_usd=None,
        results="{}",
    )


async def test_results_are_kept_per_repository_newest_first(store: RunStore) -> None:
    await store.keep_eval(record(1, "octo/a", 100.0, 4))
    await store.keep_eval(record(2, "octo/b", 150.0, 1))
    await store.keep_eval(record(3, "octo/a", 200.0, 2))
    await store.keep_eval(record(3, "octo/a", 200.0, 3).model_copy(update={"alert": "drop"}))

    history = await store.eval_history("octo/a")
    assert [(r.run_id, r.resolved, r.alert) for r in history] == [(3, 3, "drop"), (1, 4, None)]
    assert history[0].resolve_rate == pytest.approx(0.75) and history[0].cost_usd is None
    latest = await store.latest_evals()
    assert [(r.repository, r.run_id) for r in latest] == [("octo/a", 3), ("octo/b", 2)]
