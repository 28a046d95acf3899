"""The PostgreSQL store's feedback SQL, on the store's pool or one of its connections.

`take` runs inside the store's transaction: its UPDATE only claims rows still pending, and a
concurrent taker blocked on the same rows re-checks `run_id IS NULL` once the first commits,
so no item goes to two runs.
"""

from __future__ import annotations

import asyncpg

from bot.runs.models import Feedback, NewFeedback, RunNotFound
from bot.runs.store import (
    FEEDBACK_FIELDS,
    NEW_FEEDBACK_FIELDS,
    RETAKEN,
    feedback_from_row,
    new_feedback_values,
)


async def add(db: asyncpg.Pool | asyncpg.Connection, item: NewFeedback) -> bool:
    """Insert `item`; False when its (repository, pull request, kind, source_id) is kept."""
    inserted = await db.fetchval(
        f"INSERT INTO feedback ({NEW_FEEDBACK_FIELDS}) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        "ON CONFLICT (repository, pull_request, kind, source_id) DO NOTHING RETURNING id",
        *new_feedback_values(item),
    )
    return inserted is not None


async def take(
    db: asyncpg.Connection, run_id: int, repository: str, pull_request: int
) -> list[Feedback]:
    """Assign the pending items of the pull request to the run, and those earlier runs took
    without pushing anything for them; all the run holds, oldest first."""
    if await db.fetchval("SELECT 1 FROM runs WHERE id = $1", run_id) is None:
        raise RunNotFound.missing(run_id)
    await db.execute(
        "UPDATE feedback SET run_id = $1 "
        "WHERE repository = $2 AND pull_request = $3 AND "
        f"{RETAKEN}",
        run_id,
        repository,
        pull_request,
    )
    rows = await db.fetch(
        f"SELECT {FEEDBACK_FIELDS} FROM feedback "
        "WHERE repository = $1 AND pull_request = $2 AND run_id = $3 ORDER BY id",
        repository,
        pull_request,
        run_id,
    )
    return [feedback_from_row(row) for row in rows]


async def pending(
    db: asyncpg.Pool | asyncpg.Connection, repository: str, pull_request: int
) -> list[Feedback]:
    rows = await db.fetch(
        f"SELECT {FEEDBACK_FIELDS} FROM feedback "
        "WHERE repository = $1 AND pull_request = $2 AND run_id IS NULL ORDER BY id",
        repository,
        pull_request,
    )
    return [feedback_from_row(row) for row in rows]
