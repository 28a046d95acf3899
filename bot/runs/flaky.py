"""Flaky tests remembered per repository, with the commit where their outcome last changed
between reruns, so a later run counts them neither fixed nor broken (issue 13). The SQL of
both stores; each store's `remember_flaky` and `known_flaky` call it."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:  # the drivers load with their store, never with the migrations' SQL
    import aiosqlite
    import asyncpg

_FIELDS = "repository, test_id, commit_sha, outcomes, seen_at"
_UPDATE = (
    "ON CONFLICT (repository, test_id) DO UPDATE SET commit_sha = excluded.commit_sha, "
    "outcomes = excluded.outcomes, seen_at = excluded.seen_at"
)
_SELECT = f"SELECT {_FIELDS} FROM flaky_tests WHERE repository = {{}} ORDER BY test_id"

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


def _rows(
    repository: str, commit: str, flaky: Mapping[str, Sequence[str]]
) -> list[tuple[Any, ...]]:
    now = time.time()
    return [
        (repository, test_id, commit, json.dumps([str(o) for o in outcomes]), now)
        for test_id, outcomes in flaky.items()
    ]


def _test(row: Any) -> FlakyTest:
    repository, test_id, commit, outcomes, seen_at = tuple(row)
    return FlakyTest(
        repository=repository,
        test_id=test_id,
        commit=commit,
        outcomes=json.loads(outcomes),
        seen_at=seen_at,
    )


async def remember_sqlite(
    db: aiosqlite.Connection, repository: str, commit: str, flaky: Mapping[str, Sequence[str]]
) -> None:
    sql = f"INSERT INTO flaky_tests ({_FIELDS}) VALUES (?, ?, ?, ?, ?) {_UPDATE}"
    await db.executemany(sql, _rows(repository, commit, flaky))


async def known_sqlite(db: aiosqlite.Connection, repository: str) -> list[FlakyTest]:
    return [_test(row) for row in await db.execute_fetchall(_SELECT.format("?"), (repository,))]


async def remember_postgres(
    db: asyncpg.Pool | asyncpg.Connection,
    repository: str,
    commit: str,
    flaky: Mapping[str, Sequence[str]],
) -> None:
    sql = f"INSERT INTO flaky_tests ({_FIELDS}) VALUES ($1, $2, $3, $4, $5) {_UPDATE}"
    await db.executemany(sql, _rows(repository, commit, flaky))


async def known_postgres(db: asyncpg.Pool | asyncpg.Connection, repository: str) -> list[FlakyTest]:
    return [_test(row) for row in await db.fetch(_SELECT.format("$1"), repository)]
