"""The KPIs, defined once (docs/kpis.md says what each means): a pure function over a
period's recorded runs, outcomes and traces. An unknown cost stays unknown (None), never 0."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from statistics import median

from pydantic import BaseModel, Field

from bot.kpi.records import ENDED, KpiRecords
from bot.runs.facts import RunFacts
from bot.runs.models import PullOutcome, Run, RunState

FIRST_RUN_TRIGGERS = ("label", "comment", "retry", "cli")
ABSTAINED = ("rejected", "step_limit", "cost_limit", "time_limit", "finished")
"""Escalation reasons where the bot tried and declined to publish: no candidate it could prove."""
_NO_FACTS = RunFacts()


class Assumptions(BaseModel):
    """The stated, configurable assumptions behind rework hours avoided."""

    hours_per_refused_candidate: float = Field(default=1.0, ge=0)
    """Hours a reviewer would spend finding and sending back a defect verification stopped."""
    hours_per_bot_revision: float = Field(default=0.5, ge=0)
    """Hours a developer would spend on a revision round the bot made instead."""


class ReworkAvoided(BaseModel):
    refused_candidates: int
    """Candidate patches verification refused: defects stopped before review."""
    bot_revision_rounds: int
    """Revision rounds the bot made (revision runs that pushed) instead of a human."""
    hours_estimate: float
    """refused_candidates x hours_per_refused_candidate + bot_revision_rounds x
    hours_per_bot_revision (see `assumptions`)."""
    assumptions: Assumptions


class KpiReport(BaseModel):
    """The KPIs of one period (and repository, or all)."""

    since: float
    until: float
    repository: str | None
    runs: int
    first_runs: int
    finished_first_runs: int
    pull_requests_opened: int
    merged: int
    closed_unmerged: int
    reverted: int
    cycle_time_to_pr_s: float | None
    """Median seconds from the trigger to the pull request being opened."""
    cycle_time_to_merge_s: float | None
    """Median seconds from the trigger to the merge."""
    baseline_cycle_time_s: float | None = None
    """Median seconds from issue opened to the fixing pull request merged, by people (REST)."""
    cycle_time_reduction: float | None = None
    """1 - cycle_time_to_merge_s / baseline_cycle_time_s."""
    first_pass_quality: float | None
    """Merged with no revision round and no human push, over merged."""
    ci_green_first_push: float | None
    """Other apps' CI passed on the first push, over the pull requests where it reported."""
    escalation_rate: float | None
    escalations_by_reason: dict[str, int]
    abstention_rate: float | None
    cost_per_run_usd: float | None
    cost_per_merged_pr_usd: float | None
    runs_with_unknown_cost: int
    rework_avoided: ReworkAvoided


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _median(values: list[float]) -> float | None:
    return median(values) if values else None


def _total_cost(runs: list[Run]) -> float | None:
    costs = [run.cost_usd for run in runs]
    return None if any(cost is None for cost in costs) else sum(c for c in costs if c is not None)


def opening_run(outcome: PullOutcome, runs: dict[int, Run]) -> Run | None:
    return runs.get(outcome.run_id) if outcome.run_id is not None else None


def revision_runs(runs: Iterable[Run]) -> dict[tuple[str, int], list[Run]]:
    """The revision runs of each pull request, by (repository, number), oldest first."""
    revisions: dict[tuple[str, int], list[Run]] = {}
    for run in runs:
        if run.pull_request is not None:
            revisions.setdefault((run.repository, run.pull_request), []).append(run)
    return revisions


def first_pass(outcome: PullOutcome, revisions: dict[tuple[str, int], list[Run]]) -> bool:
    """Merged as Patchbot opened it: no revision round and no person's push (docs/kpis.md)."""
    revised = revisions.get((outcome.repository, outcome.pull_request))
    return not revised and outcome.human_pushes == 0


def compute_kpis(
    records: KpiRecords,
    since: float,
    until: float,
    repository: str | None = None,
    assumptions: Assumptions | None = None,
    baseline_cycle_time_s: float | None = None,
) -> KpiReport:
    """The KPIs of the runs created in [since, until) (in `repository`, or all) and of the pull
    requests those runs opened."""
    assumptions = assumptions or Assumptions()
    runs = [
        run
        for run in records.runs
        if since <= run.created_at < until and repository in (None, run.repository)
    ]
    by_id = {run.id: run for run in runs}
    first = [run for run in runs if run.trigger in FIRST_RUN_TRIGGERS]
    ended = [run for run in first if run.state in ENDED]
    escalated = [run for run in ended if run.state is RunState.ESCALATED]
    reasons = Counter(
        (records.facts.get(run.id) or _NO_FACTS).escalation_reason or "unknown" for run in escalated
    )
    outcomes = [o for o in records.outcomes if opening_run(o, by_id) is not None]
    revisions = revision_runs(records.runs)
    merged = [o for o in outcomes if o.state == "merged"]
    to_pr, to_merge = [], []
    for outcome in outcomes:
        start = by_id[outcome.run_id or 0].created_at
        if outcome.opened_at is not None:
            to_pr.append(outcome.opened_at - start)
        if outcome.merged_at is not None:
            to_merge.append(outcome.merged_at - start)
    clean = [o for o in merged if first_pass(o, revisions)]
    ci_known = [o for o in outcomes if o.ci_first_push is not None]
    finished_runs = [run for run in runs if run.state in ENDED]
    run_cost = _total_cost(finished_runs)
    merged_runs = [by_id[o.run_id or 0] for o in merged] + [
        run for o in merged for run in revisions.get((o.repository, o.pull_request), [])
    ]
    merged_cost = _total_cost(merged_runs)
    refused = sum((records.facts.get(run.id) or _NO_FACTS).refused_candidates for run in runs)
    rounds = sum(
        1 for run in runs if run.pull_request is not None and run.state is RunState.SUCCEEDED
    )
    to_merge_s = _median(to_merge)
    return KpiReport(
        since=since,
        until=until,
        repository=repository,
        runs=len(runs),
        first_runs=len(first),
        finished_first_runs=len(ended),
        pull_requests_opened=len(outcomes),
        merged=len(merged),
        closed_unmerged=sum(1 for o in outcomes if o.state == "closed"),
        reverted=sum(1 for o in merged if o.reverted_at is not None),
        cycle_time_to_pr_s=_median(to_pr),
        cycle_time_to_merge_s=to_merge_s,
        baseline_cycle_time_s=baseline_cycle_time_s,
        cycle_time_reduction=(
            1 - to_merge_s / baseline_cycle_time_s
            if to_merge_s is not None and baseline_cycle_time_s
            else None
        ),
        first_pass_quality=_rate(len(clean), len(merged)),
        ci_green_first_push=_rate(
            sum(1 for o in ci_known if o.ci_first_push == "pass"), len(ci_known)
        ),
        escalation_rate=_rate(len(escalated), len(ended)),
        escalations_by_reason=dict(sorted(reasons.items())),
        abstention_rate=_rate(sum(reasons[r] for r in ABSTAINED), len(ended)),
        cost_per_run_usd=(
            run_cost / len(finished_runs) if run_cost is not None and finished_runs else None
        ),
        cost_per_merged_pr_usd=merged_cost / len(merged)
        if merged_cost is not None and merged
        else None,
        runs_with_unknown_cost=sum(1 for run in finished_runs if run.cost_usd is None),
        rework_avoided=ReworkAvoided(
            refused_candidates=refused,
            bot_revision_rounds=rounds,
            hours_estimate=refused * assumptions.hours_per_refused_candidate
            + rounds * assumptions.hours_per_bot_revision,
            assumptions=assumptions,
        ),
    )
