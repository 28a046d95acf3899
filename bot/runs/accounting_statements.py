"""The statements of what people read and account with: the dashboard's views of the runs,
what became of Patchbot's pull requests, each ended run's facts and people's cycle time (the
KPIs and governance views read these); the run queue's own are in `statements.py`."""

from __future__ import annotations

from typing import Any

from bot.runs.sql import in_list
from bot.runs.statements import (
    HOLD_FIELDS,
    RUN_FIELDS,
    placeholders,
)

PULL_OUTCOME_STATE = "(CASE WHEN o.reverted_at IS NOT NULL THEN 'reverted' ELSE o.state END)"
"""What became of pull request `o`: open, merged, closed, or reverted (merged, then its merge
commit reverted); each pull request in exactly one."""


# Views for people (the dashboard): filtered, paged and grouped in the database

_VIEW_FILTER = (
    "(CAST(:repository AS TEXT) IS NULL OR repository = :repository) "
    "AND (CAST(:state AS TEXT) IS NULL OR state = :state) "
    "AND (CAST(:outcome AS TEXT) IS NULL "
    "OR (:outcome = 'pull_request' AND pr_url IS NOT NULL) "
    "OR (:outcome = 'no_pull_request' AND pr_url IS NULL "
    "AND state IN ('succeeded', 'escalated', 'failed', 'cancelled')) "
    f"OR EXISTS (SELECT 1 FROM pull_outcomes AS o WHERE o.run_id = runs.id "
    f"AND {PULL_OUTCOME_STATE} = :outcome) "
    "OR EXISTS (SELECT 1 FROM pull_outcomes AS o WHERE o.repository = runs.repository "
    f"AND o.pull_request = runs.pull_request AND {PULL_OUTCOME_STATE} = :outcome)) "
    "AND (CAST(:created_from AS DOUBLE PRECISION) IS NULL OR created_at >= :created_from) "
    "AND (CAST(:created_before AS DOUBLE PRECISION) IS NULL OR created_at < :created_before)"
)


def _visible(count: int | None, column: str = "repository") -> str:
    """The condition on the viewer's `count` repositories (`:repo0`, ...); None: every
    repository."""
    return "" if count is None else f" AND {column} IN ({in_list('repo', count)})"


def visible_count(repositories: tuple[str, ...] | None) -> int | None:
    """What the statements below take for the viewer's repositories (None: all of them)."""
    return None if repositories is None else len(repositories)


def visible_values(repositories: tuple[str, ...] | None) -> dict[str, Any]:
    """The parameters `:repo0, :repo1, ...` of the viewer's repositories."""
    return {f"repo{index}": name for index, name in enumerate(repositories or ())}


def search_runs(visible: int | None) -> str:
    """A page of the runs the filter selects among `visible` repositories, newest first."""
    return (
        f"SELECT {RUN_FIELDS} FROM runs WHERE {_VIEW_FILTER}{_visible(visible)} "
        "ORDER BY id DESC LIMIT :limit OFFSET :offset"
    )


def count_runs(visible: int | None) -> str:
    """How many runs the filter selects among `visible` repositories."""
    return f"SELECT COUNT(*) AS runs FROM runs WHERE {_VIEW_FILTER}{_visible(visible)}"


def awaiting_approval(visible: int | None) -> str:
    """The held runs among `visible` repositories with their holds, oldest first."""
    held = ", ".join(f"holds.{name} AS hold_{name}" for name in HOLD_FIELDS.split(", "))
    fields = ", ".join(f"runs.{name}" for name in RUN_FIELDS.split(", "))
    return (
        f"SELECT {fields}, {held} FROM runs JOIN holds ON holds.run_id = runs.id "
        f"WHERE runs.state = 'awaiting_approval'{_visible(visible)} ORDER BY runs.id"
    )


def weekly_runs(visible: int | None) -> str:
    """Runs created since `:since` by repository, week and state, with their known cost."""
    return (
        "SELECT repository, {week_of_created} AS week, state, COUNT(*) AS runs, "
        "COALESCE(SUM(cost_usd), 0) AS cost_usd, "
        "SUM(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END) AS unknown_cost "
        f"FROM runs WHERE created_at >= :since{_visible(visible)} "
        "GROUP BY repository, week, state ORDER BY repository, week, state"
    )


# What became of Patchbot's pull requests (what the KPIs and governance views read)

OUTCOME_FIELDS = (
    "repository, pull_request, issue, run_id, installation_id, branch, first_head_sha, "
    "opened_at, state, merged_at, merged_by, merge_commit_sha, closed_at, closed_by, "
    "ci_first_push, human_pushes, last_human_sha, reverted_at, revert_sha, updated_at, "
    "changed_files"
)
_KEEP_KNOWN = ", ".join(
    f"{name} = COALESCE(pull_outcomes.{name}, excluded.{name})"
    for name in (
        "run_id",
        "installation_id",
        "branch",
        "first_head_sha",
        "opened_at",
        "changed_files",
    )
)
OPEN_OUTCOME = (
    "INSERT INTO pull_outcomes (repository, pull_request, issue, run_id, installation_id, "
    "branch, first_head_sha, opened_at, state, updated_at, changed_files) "
    "SELECT repository, :number, issue, id, installation_id, :branch, :head_sha, :now, 'open', "
    ":now, :changed_files FROM runs WHERE id = :run_id "
    f"ON CONFLICT (repository, pull_request) DO UPDATE SET {_KEEP_KNOWN}, "
    "updated_at = excluded.updated_at"
)
_CLOSED_FIELDS = (
    "repository, pull_request, issue, installation_id, branch, opened_at, state, merged_at, "
    "merged_by, merge_commit_sha, closed_at, closed_by, updated_at"
)
CLOSE_OUTCOME = (
    f"INSERT INTO pull_outcomes ({_CLOSED_FIELDS}) VALUES ({placeholders(_CLOSED_FIELDS)}) "
    f"ON CONFLICT (repository, pull_request) DO UPDATE SET {_KEEP_KNOWN}, "
    "state = excluded.state, merged_at = excluded.merged_at, "
    "merged_by = COALESCE(excluded.merged_by, pull_outcomes.merged_by), "
    "merge_commit_sha = excluded.merge_commit_sha, closed_at = excluded.closed_at, "
    "closed_by = COALESCE(excluded.closed_by, pull_outcomes.closed_by), "
    "updated_at = excluded.updated_at"
)
"""A pull request merged or closed: its final state wins over what was recorded before."""
REOPEN_OUTCOME = (
    "UPDATE pull_outcomes SET state = 'open', closed_at = NULL, closed_by = NULL, "
    "updated_at = :now WHERE repository = :repository AND pull_request = :pull_request "
    "AND state = 'closed'"
)
"""A closed pull request reopened: open again until it is merged or closed (a merged one
cannot be reopened)."""
RECORD_CI = (
    "UPDATE pull_outcomes SET ci_first_push = CASE WHEN ci_first_push = 'fail' THEN 'fail' "
    "ELSE :result END, updated_at = :now "
    "WHERE repository = :repository AND first_head_sha = :head_sha"
)
"""One failed check makes the first push's CI `fail` for good."""
RECORD_HUMAN_PUSH = (
    "UPDATE pull_outcomes SET human_pushes = human_pushes + 1, last_human_sha = :after, "
    "updated_at = :now WHERE repository = :repository AND pull_request = :pull_request "
    "AND (last_human_sha IS NULL OR last_human_sha <> :after)"
)
"""Counted once per pushed head (a redelivery of the same push counts nothing)."""
RECORD_REVERT = (
    "UPDATE pull_outcomes SET reverted_at = COALESCE(reverted_at, :now), "
    "revert_sha = COALESCE(revert_sha, :revert_sha), updated_at = :now "
    "WHERE repository = :repository AND merge_commit_sha LIKE :reverted_prefix"
)


def list_outcomes(visible: int | None) -> str:
    """The outcomes in `:repository` (NULL: any) and `:state` (NULL: any) among `visible`
    repositories."""
    return (
        f"SELECT {OUTCOME_FIELDS} FROM pull_outcomes "
        "WHERE (CAST(:repository AS TEXT) IS NULL OR repository = :repository) "
        f"AND (CAST(:state AS TEXT) IS NULL OR state = :state){_visible(visible)} "
        "ORDER BY repository, pull_request"
    )


def holds_since(visible: int | None) -> str:
    """The holds made since `:since` of runs in `:repository` (NULL: any) among `visible`
    repositories."""
    return (
        f"SELECT {', '.join('holds.' + name for name in HOLD_FIELDS.split(', '))} FROM holds "
        "JOIN runs ON runs.id = holds.run_id WHERE holds.held_at >= :since "
        "AND (CAST(:repository AS TEXT) IS NULL OR runs.repository = :repository)"
        f"{_visible(visible, 'runs.repository')} ORDER BY holds.held_at"
    )


# Each ended run's facts (bot.runs.facts), and people's cycle time per repository

FACT_FIELDS = (
    "run_id, escalation_reason, refused_candidates, policy_digest, autonomy_paths, verdict, "
    "pr_opened_at, recorded_at"
)
RECORD_FACTS = (
    f"INSERT INTO run_facts ({FACT_FIELDS}) VALUES ({placeholders(FACT_FIELDS)}) "
    "ON CONFLICT (run_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in FACT_FIELDS.split(", ")[1:])
)
_RUNS_WITH_FACTS = (
    f"SELECT {', '.join('runs.' + name for name in RUN_FIELDS.split(', '))}, "
    + ", ".join(f"run_facts.{name} AS facts_{name}" for name in FACT_FIELDS.split(", ")[1:])
    + " FROM runs LEFT JOIN run_facts ON run_facts.run_id = runs.id "
)


def runs_with_facts_since(visible: int | None) -> str:
    """The runs created since `:since` in `:repository` (NULL: any) among `visible`
    repositories, each with its kept facts (`facts_*`, NULL when none)."""
    return (
        f"{_RUNS_WITH_FACTS}WHERE runs.created_at >= :since "
        "AND (CAST(:repository AS TEXT) IS NULL OR runs.repository = :repository)"
        f"{_visible(visible, 'runs.repository')} ORDER BY runs.id"
    )


BASELINE_FIELDS = "repository, median_s, samples, scanned, computed_at"
SAVE_BASELINE = (
    f"INSERT INTO cycle_time_baselines ({BASELINE_FIELDS}) "
    f"VALUES ({placeholders(BASELINE_FIELDS)}) "
    "ON CONFLICT (repository) DO UPDATE SET median_s = excluded.median_s, "
    "samples = excluded.samples, scanned = excluded.scanned, computed_at = excluded.computed_at"
)
LIST_BASELINES = f"SELECT {BASELINE_FIELDS} FROM cycle_time_baselines ORDER BY repository"
RECORDS_VERSION = (
    "SELECT (SELECT COUNT(*) FROM runs WHERE created_at >= :since) AS runs, "
    "(SELECT SUM(CASE WHEN state = 'running' THEN COALESCE(started_at, 0) + attempts "
    "ELSE updated_at END) FROM runs WHERE created_at >= :since) AS runs_updated, "
    "(SELECT COUNT(*) FROM pull_outcomes) AS outcomes, "
    "(SELECT SUM(updated_at) FROM pull_outcomes) AS outcomes_updated, "
    "(SELECT SUM(recorded_at) FROM run_facts) AS facts_recorded, "
    "(SELECT SUM(held_at) + SUM(COALESCE(decided_at, 0)) FROM holds) AS holds_changed, "
    "(SELECT SUM(computed_at) FROM cycle_time_baselines) AS baselines_computed"
)
"""Changes whenever anything the KPIs of the runs created since `:since` read changes (a
run's every write moves its `updated_at`, but a running run's lease renewals, every few
seconds, change nothing the KPIs read): what a computed KPI page is cached under."""
PULL_OUTCOMES_BY_STATE = (
    f"SELECT {PULL_OUTCOME_STATE} AS state, COUNT(*) AS pulls FROM pull_outcomes AS o GROUP BY 1"
)
