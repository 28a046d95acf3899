"""The dashboard's views of the store, on SQLite and PostgreSQL: filters, pages and counts
made by the database, the viewer's repositories only, held runs with their holds, and runs
counted by week."""

from __future__ import annotations

from bot.runs.models import NewRun, Run, RunState
from bot.runs.store import RunStore
from bot.runs.views import WEEK_SECONDS, RunFilter
from tests.stores import execute_sql

WEEK_START = 2_000 * WEEK_SECONDS
"""A Thursday 00:00 UTC, the first second of week 2000."""


async def ended(store: RunStore, repository: str, issue: int, state: RunState, cost: float) -> Run:
    run, _ = await store.create_run(
        NewRun(repository=repository, issue=issue, requester="alice", trigger="label")
    )
    claimed = await store.claim_run("w", 60, 3)
    assert claimed is not None and claimed.id == run.id
    return await store.finish_run(run.id, "w", state, "done", cost)


async def a_store_of_runs(store: RunStore, database_url: str) -> list[Run]:
    """Six runs over two repositories and two weeks: two with pull requests, one held."""
    runs = [
        await ended(store, "octo/a", 1, RunState.SUCCEEDED, 0.5),
        await ended(store, "octo/a", 2, RunState.FAILED, 0.25),
        await ended(store, "octo/b", 1, RunState.SUCCEEDED, 1.0),
        await ended(store, "octo/b", 2, RunState.ESCALATED, 0.0),
        await ended(store, "octo/a", 3, RunState.SUCCEEDED, 0.125),
    ]
    await store.record_pull_request(runs[0].id, "https://github.example/octo/a/pull/9")
    await store.record_pull_request(runs[2].id, "https://github.example/octo/b/pull/4")
    held, _ = await store.create_run(
        NewRun(repository="octo/b", issue=3, requester="bob", trigger="comment")
    )
    assert await store.claim_run("w", 60, 3) is not None
    await store.hold_run(held.id, "w", '{"patch": "x"}', "needs approval", 0.0)
    runs.append(held)
    created = [
        WEEK_START + 10,
        WEEK_START + 20,
        WEEK_START + 30,
        WEEK_START + WEEK_SECONDS + 5,
        WEEK_START + WEEK_SECONDS + 6,
        WEEK_START + WEEK_SECONDS + 7,
    ]
    await execute_sql(
        database_url,
        *(
            f"UPDATE runs SET created_at = {at} WHERE id = {run.id}"
            for run, at in zip(runs, created, strict=True)
        ),
    )
    return runs


async def test_filters_pages_and_counts_are_the_databases(
    store: RunStore, database_url: str
) -> None:
    runs = await a_store_of_runs(store, database_url)
    everything = RunFilter()
    assert await store.count_runs(everything) == 6
    newest = await store.search_runs(everything, limit=4)
    assert [run.id for run in newest] == [run.id for run in reversed(runs)][:4]
    rest = await store.search_runs(everything, limit=4, offset=4)
    assert [run.id for run in rest] == [runs[1].id, runs[0].id]

    assert await store.count_runs(RunFilter(repository="octo/a")) == 3
    assert await store.count_runs(RunFilter(state=RunState.SUCCEEDED)) == 3
    with_pr = await store.search_runs(RunFilter(outcome="pull_request"), limit=10)
    assert {run.id for run in with_pr} == {runs[0].id, runs[2].id}
    without = await store.search_runs(RunFilter(outcome="no_pull_request"), limit=10)
    assert {run.id for run in without} == {runs[1].id, runs[3].id, runs[4].id}  # not the held one
    second_week = RunFilter(created_from=WEEK_START + WEEK_SECONDS)
    assert await store.count_runs(second_week) == 3
    first_week = RunFilter(created_before=WEEK_START + WEEK_SECONDS)
    assert await store.count_runs(first_week) == 3
    assert await store.count_runs(RunFilter(repository="octo/a", created_from=WEEK_START + 15)) == 2


async def test_a_viewer_sees_only_their_repositories(store: RunStore, database_url: str) -> None:
    await a_store_of_runs(store, database_url)
    only_b = RunFilter(repositories=("octo/b",))
    assert {run.repository for run in await store.search_runs(only_b, limit=10)} == {"octo/b"}
    assert await store.count_runs(only_b) == 3
    asking_for_a = RunFilter(repositories=("octo/b",), repository="octo/a")
    assert await store.count_runs(asking_for_a) == 0
    assert await store.search_runs(RunFilter(repositories=()), limit=10) == []
    assert await store.count_runs(RunFilter(repositories=())) == 0
    assert await store.awaiting_approval(("octo/a",)) == []
    assert await store.weekly_runs((), 0) == []


async def test_held_runs_come_with_their_holds(store: RunStore, database_url: str) -> None:
    runs = await a_store_of_runs(store, database_url)
    [(run, hold)] = await store.awaiting_approval(None)
    assert run.id == runs[-1].id and run.state is RunState.AWAITING_APPROVAL
    assert hold.run_id == run.id and hold.content == '{"patch": "x"}' and hold.held_by == "w"
    assert [found.id for found, _ in await store.awaiting_approval(("octo/b",))] == [run.id]


async def test_runs_are_counted_by_repository_week_and_state(
    store: RunStore, database_url: str
) -> None:
    await a_store_of_runs(store, database_url)
    await execute_sql(database_url, "UPDATE runs SET cost_usd = NULL WHERE state = 'escalated'")
    rows = await store.weekly_runs(None, WEEK_START)
    found = {
        (row.repository, row.week, row.state.value): (row.runs, row.cost_usd, row.unknown_cost)
        for row in rows
    }
    assert found == {
        ("octo/a", 2000, "succeeded"): (1, 0.5, 0),
        ("octo/a", 2000, "failed"): (1, 0.25, 0),
        ("octo/b", 2000, "succeeded"): (1, 1.0, 0),
        ("octo/b", 2001, "escalated"): (1, 0.0, 1),
        ("octo/a", 2001, "succeeded"): (1, 0.125, 0),
        ("octo/b", 2001, "awaiting_approval"): (1, 0.0, 0),
    }
    later = await store.weekly_runs(("octo/a",), WEEK_START + WEEK_SECONDS)
    assert [(row.repository, row.week) for row in later] == [("octo/a", 2001)]
