"""The PostgreSQL `Database`: many web replicas and workers on many machines share one
database, through an asyncpg connection pool.

Row locks are the statements' own (`{for_update}`, `{skip_locked}`: workers claim with
`FOR UPDATE SKIP LOCKED`, so two never wait on or take the same run). Times are Unix seconds
from the caller's clock, as on SQLite; keep machines in NTP.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from bot.runs.sql import POSTGRESQL, Params, Row, Session, UniqueViolation, compile_sql


class PostgresSession:
    """Statements on the pool (each on any free connection) or on one connection."""

    def __init__(self, db: Any) -> None:
        self._db = db  # asyncpg.Pool or asyncpg.Connection: the same query methods

    async def fetch(self, sql: str, params: Params | None = None) -> list[Row]:
        text, pick = compile_sql(sql, POSTGRESQL)
        try:
            rows = await self._db.fetch(text, *pick(params))
        except asyncpg.UniqueViolationError as error:
            raise UniqueViolation(str(error)) from error
        return [dict(row) for row in rows]

    async def one(self, sql: str, params: Params | None = None) -> Row | None:
        text, pick = compile_sql(sql, POSTGRESQL)
        try:
            row = await self._db.fetchrow(text, *pick(params))
        except asyncpg.UniqueViolationError as error:
            raise UniqueViolation(str(error)) from error
        return dict(row) if row is not None else None

    async def execute(self, sql: str, params: Params | None = None) -> int:
        text, pick = compile_sql(sql, POSTGRESQL)
        try:
            status: str = await self._db.execute(text, *pick(params))
        except asyncpg.UniqueViolationError as error:
            raise UniqueViolation(str(error)) from error
        count = status.rsplit(" ", 1)[-1]  # "UPDATE 3", "INSERT 0 1", "CREATE TABLE"
        return int(count) if count.isdigit() else 0


class PostgresDatabase(PostgresSession):
    """A `Database` on a PostgreSQL server."""

    dialect = POSTGRESQL

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self._pool = pool

    @classmethod
    async def open(cls, database_url: str) -> PostgresDatabase:
        return cls(await asyncpg.create_pool(database_url, min_size=1, max_size=10))

    async def close(self) -> None:
        await self._pool.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield PostgresSession(connection)

    async def write_soon(self, sql: str, params: Params, *, urgent: bool = True) -> int:
        return await self.execute(sql, params)
