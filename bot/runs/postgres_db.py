"""The PostgreSQL `Database`: many web replicas and workers on many machines share one
database, through an asyncpg connection pool.

Row locks are the statements' own (`{for_update}`, `{skip_locked}`: workers claim with
`FOR UPDATE SKIP LOCKED`, so two never wait on or take the same run). Times are Unix seconds
from the caller's clock, as on SQLite; keep machines in NTP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from bot.runs.sql import POSTGRESQL, Params, Row, Session, UniqueViolation, compile_sql

WORK_CHANNEL = "patchbot_work"
"""The NOTIFY channel on which a queued run wakes the workers."""


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

    def __init__(self, pool: asyncpg.Pool, database_url: str) -> None:
        super().__init__(pool)
        self._pool = pool
        self._url = database_url
        self._work = asyncio.Event()
        self._listener: asyncpg.Connection | None = None

    @classmethod
    async def open(cls, database_url: str) -> PostgresDatabase:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
        return cls(pool, database_url)

    async def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        await self._pool.close()

    async def announce_work(self) -> None:
        await self._pool.execute(f"NOTIFY {WORK_CHANNEL}")

    async def wait_for_work(self, timeout: float) -> None:
        """On a connection of its own, LISTENing from the first wait on; a lost connection is
        made again at the next wait (until then, the timeout is the poll)."""
        if self._listener is None or self._listener.is_closed():
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                self._listener = await asyncpg.connect(self._url)
                await self._listener.add_listener(WORK_CHANNEL, self._heard)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), timeout)
        self._work.clear()

    def _heard(self, *_: object) -> None:
        self._work.set()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        async with self._pool.acquire() as connection, connection.transaction():
            yield PostgresSession(connection)

    async def write_soon(self, sql: str, params: Params, *, urgent: bool = True) -> int:
        return await self.execute(sql, params)
