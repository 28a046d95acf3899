"""Flaky tests remembered per repository, with the commit where their outcome last changed
between reruns, so a later run counts them neither fixed nor broken (issue 13). Its table,
statements and the store's `remember_flaky` and `known_flaky`."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from bot.runs.sql import Database

MIGRATION = """
CREATE TABLE flaky_tests (
    repository TEXT NOT NULL,
    test_id TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    outcomes TEXT NOT NULL,
    seen_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repository, test_id)
);
"""
"""One row per repository and test: the latest commit and reruns that showed it flaky."""


class FlakyTest(BaseModel):
    """A test seen flaky: where, and every outcome its reruns had."""

    repository: str
    test_id: str
    commit: str
    outcomes: list[str]
    seen_at: float


REMEMBER = (
    "INSERT INTO flaky_tests (repository, test_id, commit_sha, outcomes, seen_at) "
    "VALUES (:repository, :test_id, :commit_sha, :outcomes, :seen_at) "
    "ON CONFLICT (repository, test_id) DO UPDATE SET commit_sha = excluded.commit_sha, "
    "outcomes = excluded.outcomes, seen_at = excluded.seen_at"
)
KNOWN = (
    "SELECT repository, test_id, commit_sha, outcomes, seen_at FROM flaky_tests "
    "WHERE repository = :repository ORDER BY test_id"
)


async def remember(
    db: Database, repository: str, commit: str, flaky: Mapping[str, Sequence[str]]
) -> None:
    """Keep each test (id -> every outcome its reruns had) as flaky at `commit`."""
    now = time.time()
    async with db.transaction() as session:
        for test_id, outcomes in flaky.items():
            await session.execute(
                REMEMBER,
                {
                    "repository": repository,
                    "test_id": test_id,
                    "commit_sha": commit,
                    "outcomes": json.dumps([str(o) for o in outcomes]),
                    "seen_at": now,
                },
            )


async def known(db: Database, repository: str) -> list[FlakyTest]:
    """The repository's tests seen flaky, by test id."""
    rows = await db.fetch(KNOWN, {"repository": repository})
    return [
        FlakyTest(
            repository=row["repository"],
            test_id=row["test_id"],
            commit=row["commit_sha"],
            outcomes=json.loads(row["outcomes"]),
            seen_at=row["seen_at"],
        )
        for row in rows
    ]
