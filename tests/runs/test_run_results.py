"""What a run's results look like in the store, on SQLite and PostgreSQL alike: its cost (NULL
when the model has no price, never 0) and the pull request it opened; and migration 4, which
brings a version-3 database there without losing a run, a hold or a piece of feedback."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import closing
from typing import Any

import asyncpg
import pytest

from bot.runs import migrations
from bot.runs.models import ActiveRunExists, NewRun, RunState
from bot.runs.store import RunStore, open_store, sqlite_path
from bot.runs.worker import Worker
from bot.settings import Settings
from bot.testing.pipelines import ClaimOnlyPipeline, FailingPipeline
from tests.stores import execute_sql

PULL = "https://github.com/octo/hello/pull/7"


def new_run(issue: int = 1) -> NewRun:
    return NewRun(
        repository="octo/hello", issue=issue, requester="alice", trigger="label", installation_id=42
    )


async def claimed(store: RunStore, issue: int = 1, lease_seconds: float = 30) -> int:
    run, _ = await store.create_run(new_run(issue))
    taken = await store.claim_run("w1", lease_seconds=lease_seconds, max_attempts=3)
    assert taken is not None and taken.id == run.id
    return run.id


async def _fetch(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one query, read behind the store's back."""
    if database_url.startswith("sqlite:///"):
        with closing(sqlite3.connect(sqlite_path(database_url))) as db:
            return db.execute(sql).fetchall()
    connection = await asyncpg.connect(database_url)
    try:
        return [tuple(row) for row in await connection.fetch(sql)]
    finally:
        await connection.close()


async def test_an_unknown_cost_is_stored_as_null_never_as_zero(
    store: RunStore, database_url: str
) -> None:
    run_id = await claimed(store)
    done = await store.finish_run(run_id, "w1", RunState.ESCALATED, "gave up", cost_usd=None)
    assert done.cost_usd is None
    assert await _fetch(database_url, f"SELECT cost_usd FROM runs WHERE id = {run_id}") == [(None,)]
    again = await store.get_run(run_id)
    assert again is not None and again.cost_usd is None


async def test_a_held_run_adds_its_costs_and_an_unknown_one_makes_the_total_unknown(
    store: RunStore,
) -> None:
    priced = await claimed(store, issue=1)
    held = await store.hold_run(priced, "w1", "{}", "needs approval", cost_usd=0.25)
    assert held.cost_usd == pytest.approx(0.25)
    await store.decide(priced, "bob", "approved")
    assert await store.claim_run("w1", lease_seconds=30, max_attempts=3) is not None
    done = await store.finish_run(priced, "w1", RunState.SUCCEEDED, cost_usd=0.1)
    assert done.cost_usd == pytest.approx(0.35)

    unpriced = await claimed(store, issue=2)
    assert (await store.hold_run(unpriced, "w1", "{}", cost_usd=None)).cost_usd is None
    await store.decide(unpriced, "bob", "approved")
    assert await store.claim_run("w1", lease_seconds=30, max_attempts=3) is not None
    later = await store.finish_run(unpriced, "w1", RunState.SUCCEEDED, cost_usd=0.1)
    assert later.cost_usd is None  # part of it is unknown, so the whole is


async def test_an_attempt_that_reported_no_cost_makes_the_run_s_cost_unknown(
    store: RunStore, settings: Settings
) -> None:
    await store.create_run(new_run(issue=1))
    failed = await Worker(store, FailingPipeline(), settings).run_one()
    assert failed is not None and failed.state is RunState.FAILED and failed.cost_usd is None
    await store.create_run(new_run(issue=2))
    done = await Worker(store, ClaimOnlyPipeline(), settings).run_one()
    assert done is not None and done.cost_usd == 0.0  # it called no model, and said so

    taken_over = await claimed(store, issue=3, lease_seconds=0.1)
    await asyncio.sleep(0.2)
    second = await store.claim_run("w2", lease_seconds=30, max_attempts=3)
    assert second is not None and second.id == taken_over and second.cost_usd is None
    finished = await store.finish_run(taken_over, "w2", RunState.SUCCEEDED, cost_usd=0.5)
    assert finished.cost_usd is None  # the dead worker's attempt spent an unknown amount

    given_up = await claimed(store, issue=4, lease_seconds=0.1)
    await asyncio.sleep(0.2)
    assert await store.claim_run("w2", lease_seconds=30, max_attempts=1) is None
    failed_for_good = await store.get_run(given_up)
    assert failed_for_good is not None and failed_for_good.state is RunState.FAILED
    assert failed_for_good.cost_usd is None


async def test_the_days_spend_counts_the_known_costs_and_skips_unknown_ones(
    store: RunStore,
) -> None:
    since = time.time() - 1
    for issue, cost in ((1, 0.5), (2, None), (3, 0.25)):
        run_id = await claimed(store, issue)
        await store.finish_run(run_id, "w1", RunState.SUCCEEDED, cost_usd=cost)
    assert await store.spent_since(since, "octo/hello", 42, excluding=0) == (0.75, 0.75)


async def test_the_pull_request_a_run_opened_is_kept(store: RunStore) -> None:
    run_id = await claimed(store)
    first = await store.get_run(run_id)
    assert first is not None and first.pr_url is None
    await store.record_pull_request(run_id, PULL)
    done = await store.finish_run(run_id, "w1", RunState.SUCCEEDED, f"opened {PULL}")
    assert done.pr_url == PULL
    [listed] = await store.list_runs()
    assert listed.pr_url == PULL


async def test_a_version_3_database_upgrades_and_keeps_its_runs_holds_and_feedback(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old_release:
        old_release.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:3])
        await (await open_store(database_url)).close()
    columns = (
        "INSERT INTO runs (repository, issue, requester, trigger_kind, state, attempts, "
        "created_at, updated_at, started_at, finished_at, cost_usd, summary, pull_request, "
        "iteration) VALUES "
    )
    await execute_sql(
        database_url,
        columns + "('octo/hello', 1, 'alice', 'label', 'succeeded', 1, 1.0, 9.0, 2.0, 9.0, "
        "0.5, 'opened it', NULL, 0), ('octo/hello', 2, 'alice', 'label', "
        "'awaiting_approval', 1, 1.0, 5.0, 2.0, NULL, 0.125, 'needs approval', NULL, 0), "
        "('octo/hello', 3, 'bob', 'review', 'queued', 0, 1.0, 1.0, NULL, NULL, 0, '', 9, 1)",
        "INSERT INTO holds (run_id, content, held_at, held_by) VALUES (2, 'kept', 5.0, 'w1')",
        "INSERT INTO feedback (repository, pull_request, kind, author, body, source_id, "
        "received_at) VALUES ('octo/hello', 9, 'comment', 'bob', 'more tests', 5, 1.0)",
    )

    upgraded = await open_store(database_url)
    try:
        runs = {run.id: run for run in await upgraded.list_runs()}
        assert [(run.state, run.cost_usd, run.pr_url) for run in runs.values()] == [
            (RunState.QUEUED, 0.0, None),
            (RunState.AWAITING_APPROVAL, 0.125, None),
            (RunState.SUCCEEDED, 0.5, None),
        ]
        assert (runs[1].summary, runs[1].started_at, runs[3].pull_request) == ("opened it", 2.0, 9)
        hold = await upgraded.get_hold(2)
        assert hold is not None and hold.content == "kept"
        taken = await upgraded.take_feedback(3, "octo/hello", 9)
        assert [piece.body for piece in taken] == ["more tests"]
        with pytest.raises(ActiveRunExists):  # the indexes came back with the table
            await upgraded.create_run(new_run(issue=2))
        fresh, _ = await upgraded.create_run(new_run(issue=4))
        assert fresh.id > 3  # ids go on where they were
        claim = await upgraded.claim_run("w1", lease_seconds=30, max_attempts=3)
        assert claim is not None and claim.id == 3
        ended = await upgraded.finish_run(3, "w1", RunState.ESCALATED, cost_usd=None)
        assert ended.cost_usd is None
    finally:
        await upgraded.close()
