"""Scheduled evaluations in the store (issue 16 item 5): runs that repeat, and each
evaluation's result kept per repository so the next one is compared with it. Its migration,
statements and the store's `keep_eval`, `eval_history` and `latest_evals`.

A scheduled evaluation is a run of trigger `eval` on issue 0 of its repository, with
`repeat_seconds`: when its worker finishes it, the same transaction queues the next one, due
that many seconds later (see `REPEAT_RUN`). So the schedule lives in the run queue: durable,
claimed by one worker like any run, and one at a time per repository (the index on a
repository's active runs of an issue).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from bot.runs.sql import Database

EVAL_ISSUE = 0
"""The issue number of a repository's scheduled evaluations (GitHub numbers start at 1)."""

MIGRATION = """
ALTER TABLE runs ADD COLUMN repeat_seconds DOUBLE PRECISION;
CREATE TABLE eval_results (
    run_id BIGINT PRIMARY KEY,
    repository TEXT NOT NULL,
    finished_at DOUBLE PRECISION NOT NULL,
    model TEXT NOT NULL,
    tasks INTEGER NOT NULL,
    runs INTEGER NOT NULL,
    resolved INTEGER NOT NULL,
    accepted INTEGER NOT NULL,
    accepted_unresolved INTEGER NOT NULL,
    refused_resolved INTEGER NOT NULL,
    resolve_rate DOUBLE PRECISION,
    cost_usd DOUBLE PRECISION,
    alert TEXT,
    results TEXT NOT NULL
);
CREATE INDEX eval_results_by_repository ON eval_results (repository, finished_at);
"""


class EvalRecord(BaseModel):
    """One evaluation's figures, kept: what the next one is compared with, and what a metric
    shows."""

    run_id: int
    """The scheduled run that made it."""
    repository: str
    finished_at: float
    """Unix time, seconds."""
    model: str
    tasks: int
    runs: int
    resolved: int
    accepted: int
    """Runs that would have opened a pull request."""
    accepted_unresolved: int
    """Wrong pull requests: accepted, and the task's real tests do not pass."""
    refused_resolved: int
    resolve_rate: float | None
    """resolved / runs; None when nothing ran."""
    cost_usd: float | None
    """None when unknown (a model without a price)."""
    alert: str | None = None
    """Why it was raised to the operators (a drop from the previous one); None: no drift."""
    results: str
    """The evaluation's `results.json` (totals and a row per run), for comparing task by task."""


_FIELDS = (
    "run_id, repository, finished_at, model, tasks, runs, resolved, accepted, "
    "accepted_unresolved, refused_resolved, resolve_rate, cost_usd, alert, results"
)
_UPDATED = ", ".join(
    f"{name} = excluded.{name}" for name in _FIELDS.split(", ") if name != "run_id"
)
KEEP = (
    f"INSERT INTO eval_results ({_FIELDS}) "
    f"VALUES ({', '.join(':' + name for name in _FIELDS.split(', '))}) "
    f"ON CONFLICT (run_id) DO UPDATE SET {_UPDATED}"
)
"""A retried attempt of the same run replaces its row."""
HISTORY = (
    f"SELECT {_FIELDS} FROM eval_results WHERE repository = :repository "
    "ORDER BY finished_at DESC, run_id DESC LIMIT :limit"
)
LATEST = (
    f"SELECT {_FIELDS} FROM eval_results AS kept WHERE run_id = (SELECT run_id FROM "
    "eval_results AS other WHERE other.repository = kept.repository "
    "ORDER BY finished_at DESC, run_id DESC LIMIT 1) ORDER BY repository"
)


async def keep(db: Database, record: EvalRecord) -> None:
    await db.execute(KEEP, record.model_dump())


async def history(db: Database, repository: str, limit: int) -> list[EvalRecord]:
    """The repository's evaluations, newest first."""
    rows = await db.fetch(HISTORY, {"repository": repository, "limit": limit})
    return [EvalRecord.model_validate(row) for row in rows]


async def latest(db: Database) -> list[EvalRecord]:
    """Each repository's latest evaluation, by repository: what a metric shows."""
    return [EvalRecord.model_validate(row) for row in await db.fetch(LATEST, {})]
