"""The recorded facts the KPIs are computed from: a period's runs, their pull requests'
outcomes and holds from the store, and each run's facts (`bot.runs.facts`: when the pull
request was opened, why it escalated, candidates verification refused, the policy it ran
under). Facts are rows the worker keeps when a run ends; a run ended without them (before
migration 11) has its trace read once, and what it says kept."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, Field

from bot.runs.facts import CycleTimeBaseline, RunFacts, read_facts
from bot.runs.models import Hold, PullOutcome, Run, RunState
from bot.runs.pipeline import trace_path
from bot.runs.store import RunStore

ENDED = (RunState.SUCCEEDED, RunState.ESCALATED, RunState.FAILED, RunState.CANCELLED)


class KpiRecords(BaseModel):
    """Everything `compute_kpis` and the governance views read, for one period."""

    runs: list[Run] = Field(default_factory=list)
    outcomes: list[PullOutcome] = Field(default_factory=list)
    holds: list[Hold] = Field(default_factory=list)
    facts: dict[int, RunFacts] = Field(default_factory=dict)
    """By run id."""
    baselines: dict[str, CycleTimeBaseline] = Field(default_factory=dict)
    """People's cycle time, by repository, as last fetched (`patchbot report`)."""


def _facts_of(runs: list[Run], data_dir: Path) -> dict[int, RunFacts]:
    """Each run's facts from its trace, read off the event loop (the dashboard serves beside
    the webhooks)."""
    return {run.id: read_facts(trace_path(data_dir, run.id)) for run in runs}


async def load_records(
    store: RunStore,
    data_dir: Path,
    since: float,
    repository: str | None = None,
    visible: tuple[str, ...] | None = None,
) -> KpiRecords:
    """The period's records: runs created since `since` (Unix time), every recorded outcome
    and the holds made since then, of the repository (or all) and, when `visible` is given,
    only of those repositories (the store reads no others), and the runs' facts. Facts
    missing for an ended run are read from its trace under `data_dir` and kept; a run still
    going has its trace read each time (it grows)."""
    found = await store.runs_with_facts_since(since, repository=repository, repositories=visible)
    runs = [run for run, _ in found]
    facts = {run.id: kept for run, kept in found if kept is not None}
    outcomes = await store.pull_outcomes(repository=repository, repositories=visible)
    holds = await store.holds_since(since, repository=repository, repositories=visible)
    missing = [run for run in runs if run.id not in facts]
    if missing:
        read = await asyncio.to_thread(_facts_of, missing, data_dir)
        ended = {run.id for run in missing if run.state in ENDED}
        if ended:
            await store.record_facts({key: read[key] for key in ended})
        facts.update(read)
    return KpiRecords(
        runs=runs,
        outcomes=outcomes,
        holds=holds,
        facts={run.id: facts[run.id] for run in runs},
        baselines=await store.baselines(),
    )


def by_repository(records: KpiRecords) -> dict[str, KpiRecords]:
    """The records split by repository, in one pass over each list."""
    split: dict[str, KpiRecords] = defaultdict(KpiRecords)
    repository_of = {}
    for run in records.runs:
        part = split[run.repository]
        part.runs.append(run)
        repository_of[run.id] = run.repository
        if run.id in records.facts:
            part.facts[run.id] = records.facts[run.id]
    for outcome in records.outcomes:
        split[outcome.repository].outcomes.append(outcome)
    for hold in records.holds:
        if hold.run_id in repository_of:
            split[repository_of[hold.run_id]].holds.append(hold)
    for part in split.values():
        part.baselines = records.baselines
    return dict(split)
