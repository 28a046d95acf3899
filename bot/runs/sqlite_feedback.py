"""The SQLite store's feedback SQL. Each function runs inside a write transaction the store
opens (`SQLiteRunStore._transaction`), so a take is atomic against every other writer."""

from __future__ import annotations

import aiosqlite

from bot.runs.models import Feedback, NewFeedback, RunNotFound
from bot.runs.store import (
    FEEDBACK_FIELDS,
    NEW_FEEDBACK_FIELDS,
    RETAKEN,
    feedback_from_row,
    new_feedback_values,
)


async def add(db: aiosqlite.Connection, item: NewFeedback) -> bool:
    """Insert `item`; False when its (repository, pull request, kind, source_id) is kept."""
    cursor = await db.execute(
        f"INSERT INTO feedback ({NEW_FEEDBACK_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (repository, pull_request, kind, source_id) DO NOTHING",
        new_feedback_values(item),
    )
    return cursor.rowcount == 1


async def take(
    db: aiosqlite.Connection, run_id: int, repository: str, pull_request: int
) -> list[Feedback]:
    """Assign the pending items of the pull request to the run, and those earlier runs took
    without pushing anything for them; all the run holds, oldest first."""
    rows = await db.execute_fetchall("SELECT 1 FROM runs WHERE id = ?", (run_id,))
    if not rows:
        raise RunNotFound.missing(run_id)
    await db.execute(
        f"UPDATE feedback SET run_id = ? WHERE repository = ? AND pull_request = ? AND {RETAKEN}",
        (run_id, repository, pull_request),
    )
    rows = await db.execute_fetchall(
        f"SELECT {FEEDBACK_FIELDS} FROM feedback "
        "WHERE repository = ? AND pull_request = ? AND run_id = ? ORDER BY id",
        (repository, pull_request, run_id),
    )
    return [feedback_from_row(row) for row in rows]


async def pending(db: aiosqlite.Connection, repository: str, pull_request: int) -> list[Feedback]:
    rows = await db.execute_fetchall(
        f"SELECT {FEEDBACK_FIELDS} FROM feedback "
        "WHERE repository = ? AND pull_request = ? AND run_id IS NULL ORDER BY id",
        (repository, pull_request),
    )
    return [feedback_from_row(row) for row in rows]
