"""The recorded facts the KPIs are computed from: a period's runs, their pull requests'
outcomes and holds from the store, and what each run's trace says (when the pull request was
opened, why it escalated, candidates verification refused, the policy it ran under)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bot.runs.models import Hold, PullOutcome, Run
from bot.runs.pipeline import trace_path
from bot.runs.store import RunStore
from bot.trace import read_trace


class RunFacts(BaseModel):
    """What one run's trace says; everything None or empty when it has no trace here."""

    pr_opened_at: float | None = None
    escalation_reason: str | None = None
    """The `reason` of its last `escalated` event (a stop reason, `policy deny`, ...)."""
    refused_candidates: int = 0
    """Candidate patches verification rejected (each one a defect stopped before review)."""
    policy: dict[str, Any] | None = None
    """The policy it ran under, as its trace kept it."""
    verdict: str | None = None
    """The final gates' verdict: allow, needs_approval or deny."""


class KpiRecords(BaseModel):
    """Everything `compute_kpis` and the governance views read, for one period."""

    runs: list[Run] = Field(default_factory=list)
    outcomes: list[PullOutcome] = Field(default_factory=list)
    holds: list[Hold] = Field(default_factory=list)
    facts: dict[int, RunFacts] = Field(default_factory=dict)
    """By run id."""


def read_facts(path: Path) -> RunFacts:
    """A run's facts from its trace file (trace content is untrusted: only typed fields are
    kept, and they are rendered inert wherever shown)."""
    facts = RunFacts()
    if not path.exists():
        return facts
    for event in read_trace(path):
        kind = event.get("kind")
        if kind == "pull_request" and facts.pr_opened_at is None:
            facts.pr_opened_at = _number(event.get("ts"))
        elif kind == "escalated":
            facts.escalation_reason = str(event.get("reason") or "unknown")
        elif kind == "verification" and event.get("accepted") is False:
            facts.refused_candidates += 1
        elif kind == "policy" and isinstance(event.get("policy"), dict):
            facts.policy = event["policy"]
        elif kind == "policy_gates":
            facts.verdict = str(event.get("verdict"))
    return facts


def _facts_of(runs: list[Run], data_dir: Path) -> dict[int, RunFacts]:
    """Each run's facts, read off the event loop (the dashboard serves beside the webhooks)."""
    return {run.id: read_facts(trace_path(data_dir, run.id)) for run in runs}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


async def load_records(
    store: RunStore, data_dir: Path, since: float, repository: str | None = None
) -> KpiRecords:
    """The period's records: runs created since `since` (Unix time), every recorded outcome
    of the repository (or all), holds made since then, and the runs' traces under `data_dir`."""
    runs = await store.runs_since(since, repository=repository)
    return KpiRecords(
        runs=runs,
        outcomes=await store.pull_outcomes(repository=repository),
        holds=await store.holds_since(since, repository=repository),
        facts=await asyncio.to_thread(_facts_of, runs, data_dir),
    )
