"""What the KPIs keep in the store (migration 11), on SQLite and PostgreSQL: the files a pull
request changed, where each pull request ended up (the dashboard's outcome filter, joined in
SQL, and the counts `/metrics` reports), each ended run's facts, people's cycle time; and
`load_records` reading a run's trace once, then its kept facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.kpi.records import load_records
from bot.runs.facts import CycleTimeBaseline, RunFacts
from bot.runs.models import NewRun, PullOpened, PullOutcome, RunState
from bot.runs.pipeline import trace_path
from bot.runs.store import RunStore
from bot.runs.views import RunFilter
from bot.trace import Trace
from tests.runs.test_run_views import a_store_of_runs, ended


async def kept_facts(
    store: RunStore, since: float = 0, repository: str | None = None
) -> dict[int, RunFacts]:
    """The kept facts of the runs created since `since`, by run id."""
    found = await store.runs_with_facts_since(since, repository=repository)
    return {run.id: facts for run, facts in found if facts is not None}


async def opened(store: RunStore, run_id: int, number: int, files: list[str]) -> None:
    made = PullOpened(number=number, branch=f"b{number}", head_sha=f"{number:040x}", files=files)
    await store.record_pull_request(run_id, f"https://github.example/pull/{number}", made)


def closed(repository: str, number: int, issue: int, merged: bool) -> PullOutcome:
    return PullOutcome(
        repository=repository,
        pull_request=number,
        issue=issue,
        state="merged" if merged else "closed",
        merged_at=5.0 if merged else None,
        merge_commit_sha=("ab" * 20) if merged else None,
        closed_at=5.0,
    )


async def test_outcomes_filter_runs_and_are_counted(store: RunStore, database_url: str) -> None:
    runs = await a_store_of_runs(store, database_url)
    a_merged, b_closed, a_open = runs[0], runs[2], runs[4]
    await opened(store, a_merged.id, 9, ["src/core/a.py", "README.md"])
    await opened(store, b_closed.id, 4, [])
    await opened(store, a_open.id, 10, ["docs/x.md"])
    reverted_run = await ended(store, "octo/b", 7, RunState.SUCCEEDED, 0.1)
    await opened(store, reverted_run.id, 5, ["lib/z.py"])
    await store.record_closed(closed("octo/a", 9, a_merged.issue, merged=True))
    await store.record_closed(closed("octo/b", 4, b_closed.issue, merged=False))
    await store.record_closed(closed("octo/b", 5, reverted_run.issue, merged=True))
    assert await store.record_revert("octo/b", "ab" * 20, "c" * 40) == 1
    revision, _ = await store.create_run(
        NewRun(
            repository="octo/a",
            issue=a_open.issue,
            requester="bob",
            trigger="review",
            pull_request=10,
            iteration=1,
        )
    )

    async def shown(outcome: Any) -> set[int]:
        return {run.id for run in await store.search_runs(RunFilter(outcome=outcome), limit=50)}

    assert await shown("merged") == {a_merged.id}
    assert await shown("closed") == {b_closed.id}
    assert await shown("reverted") == {reverted_run.id}
    assert await shown("open") == {a_open.id, revision.id}  # the revision run of #10 too
    assert await store.count_runs(RunFilter(outcome="open", repository="octo/b")) == 0
    counts = (await store.run_counts()).pull_outcomes
    assert counts == {"open": 1, "merged": 1, "closed": 1, "reverted": 1}

    files = {o.pull_request: o.changed_files for o in await store.pull_outcomes()}
    assert files == {9: ["src/core/a.py", "README.md"], 4: [], 10: ["docs/x.md"], 5: ["lib/z.py"]}
    await store.record_closed(closed("octo/c", 1, 1, merged=True))  # only a webhook told of it
    assert (await store.pull_outcomes(repository="octo/c"))[0].changed_files is None


async def test_run_facts_and_baselines_are_kept_and_replaced(
    store: RunStore, database_url: str
) -> None:
    runs = await a_store_of_runs(store, database_url)
    first = RunFacts(escalation_reason="rejected", refused_candidates=2, verdict="deny")
    await store.record_facts({runs[0].id: first, runs[2].id: RunFacts(pr_opened_at=7.5)})
    rules = {"docs/**": "pr", "src/**": "draft_pr"}
    again = RunFacts(policy_digest="d" * 64, autonomy_paths=rules, refused_candidates=1)
    await store.record_facts({runs[0].id: again})
    kept = await kept_facts(store)
    assert kept == {runs[0].id: again, runs[2].id: RunFacts(pr_opened_at=7.5)}
    assert list(kept[runs[0].id].autonomy_paths) == ["docs/**", "src/**"]  # the rules' order
    assert await kept_facts(store, repository="octo/b") == {runs[2].id: RunFacts(pr_opened_at=7.5)}
    assert await kept_facts(store, runs[-1].created_at + 1) == {}

    baseline = CycleTimeBaseline(
        repository="octo/a", median_s=3600.0, samples=3, scanned=5, computed_at=1.0
    )
    await store.save_baseline(baseline)
    await store.save_baseline(baseline.model_copy(update={"median_s": None, "samples": 0}))
    await store.save_baseline(baseline.model_copy(update={"repository": "octo/b"}))
    found = await store.baselines()
    assert sorted(found) == ["octo/a", "octo/b"]
    assert (found["octo/a"].median_s, found["octo/a"].samples) == (None, 0)
    assert found["octo/b"] == baseline.model_copy(update={"repository": "octo/b"})


async def test_a_trace_is_read_once_for_an_ended_run(
    store: RunStore, database_url: str, tmp_path: Path
) -> None:
    runs = await a_store_of_runs(store, database_url)
    data = tmp_path / "data"
    escalated, held = runs[3], runs[5]
    for run in (escalated, held):
        with Trace(trace_path(data, run.id)) as trace:
            trace.event("verification", attempt=1, accepted=False, reason="no test failed")
            trace.event("escalated", reason="rejected")
    records = await load_records(store, data, 0)
    assert records.facts[escalated.id].escalation_reason == "rejected"
    assert records.facts[held.id].refused_candidates == 1
    kept = await kept_facts(store)
    assert held.id not in kept  # it is not over: its trace may still grow
    assert kept[escalated.id].refused_candidates == 1
    assert kept[runs[0].id] == RunFacts()  # ended without a trace here: nothing to read again
    trace_path(data, escalated.id).unlink()
    again = await load_records(store, data, 0, visible=("octo/b",))
    assert again.facts[escalated.id].escalation_reason == "rejected"  # from the store now
    assert {run.repository for run in again.runs} == {"octo/b"}
    assert set(again.facts) == {run.id for run in again.runs}


async def test_a_viewer_s_records_are_read_from_their_repositories_only(
    store: RunStore, database_url: str, tmp_path: Path
) -> None:
    runs = await a_store_of_runs(store, database_url)  # octo/b's last run is held
    await opened(store, runs[0].id, 9, [])
    await opened(store, runs[2].id, 4, [])
    baseline = CycleTimeBaseline(
        repository="octo/b", median_s=60.0, samples=3, scanned=3, computed_at=1.0
    )
    await store.save_baseline(baseline)

    mine = await load_records(store, tmp_path, 0, visible=("octo/a", "octo/c"))
    assert [run.id for run in mine.runs] == [runs[0].id, runs[1].id, runs[4].id]
    assert [(o.repository, o.pull_request) for o in mine.outcomes] == [("octo/a", 9)]
    assert mine.holds == []
    theirs = await load_records(store, tmp_path, 0, visible=("octo/b",))
    assert [hold.run_id for hold in theirs.holds] == [runs[5].id]
    assert [o.repository for o in theirs.outcomes] == ["octo/b"]
    both = await store.runs_with_facts_since(0, repository="octo/a", repositories=("octo/b",))
    assert both == []
    nothing = await load_records(store, tmp_path, 0, visible=())
    assert (nothing.runs, nothing.outcomes, nothing.holds) == ([], [], [])
    assert list(nothing.baselines) == ["octo/b"]
    everything = await load_records(store, tmp_path, 0)
    assert len(everything.runs) == 6 and len(everything.outcomes) == 2


async def test_the_kpis_version_moves_with_a_run_s_state_not_with_its_lease(
    store: RunStore,
) -> None:
    run, _ = await store.create_run(
        NewRun(repository="octo/kpi", issue=1, requester="alice", trigger="label")
    )
    queued = await store.records_version(0)
    claimed = await store.claim_run("w1", 60, 3)
    assert claimed is not None and claimed.id == run.id
    running = await store.records_version(0)
    assert running != queued
    await store.heartbeat(run.id, "w1", 60)  # every few seconds while a run works
    assert await store.records_version(0) == running
    await store.finish_run(run.id, "w1", RunState.SUCCEEDED, "done")
    assert await store.records_version(0) != running
