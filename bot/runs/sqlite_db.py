"""The SQLite `Database`: one machine, WAL mode. Statements go through one aiosqlite
connection, write transactions one at a time (BEGIN IMMEDIATE takes the write lock up front);
`write_soon`, the webhook hot path, through the group-committing `Batcher`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite

from bot.runs.sql import SQLITE, Params, Row, Session, UniqueViolation, compile_sql
from bot.runs.sqlite_batch import Batcher

log = logging.getLogger(__name__)


class SQLiteSession:
    """Statements on the database's one aiosqlite connection."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def fetch(self, sql: str, params: Params | None = None) -> list[Row]:
        text, pick = compile_sql(sql, SQLITE)
        # Fetched to the end in one call: a statement left open across an await would hold a
        # read snapshot, and a write transaction begun meanwhile on this connection would fail
        # at once ("database is locked") after the batch writer committed.
        try:
            rows = await self._db.execute_fetchall(text, pick(params))
        except sqlite3.IntegrityError as error:
            raise _unique(error) from error
        return [dict(row) for row in rows]

    async def one(self, sql: str, params: Params | None = None) -> Row | None:
        rows = await self.fetch(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Params | None = None) -> int:
        text, pick = compile_sql(sql, SQLITE)
        try:
            cursor = await self._db.execute(text, pick(params))
        except sqlite3.IntegrityError as error:
            raise _unique(error) from error
        return cursor.rowcount


class SQLiteDatabase:
    """A `Database` on one SQLite file; safe to share between processes on one machine.

    Reads run at once on the connection; every write is in a transaction, one at a time (a
    write outside one would otherwise join whichever transaction is open on the connection)."""

    dialect = SQLITE

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._session = SQLiteSession(db)
        self._lock = asyncio.Lock()
        self._batcher = Batcher(path, self._checkpoint)
        self._work = asyncio.Event()

    async def fetch(self, sql: str, params: Params | None = None) -> list[Row]:
        return await self._session.fetch(sql, params)

    async def one(self, sql: str, params: Params | None = None) -> Row | None:
        return await self._session.one(sql, params)

    async def execute(self, sql: str, params: Params | None = None) -> int:
        async with self.transaction() as session:
            return await session.execute(sql, params)

    @classmethod
    async def open(cls, path: Path) -> SQLiteDatabase:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None, timeout=30.0)
        db.row_factory = aiosqlite.Row
        # WAL: readers never block the writer. synchronous=NORMAL: a commit survives the
        # process dying at any moment; only a power cut can lose the last transactions.
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=30000")
        return cls(db, path)

    async def close(self) -> None:
        await self._batcher.close()
        await self._db.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._session
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def write_soon(self, sql: str, params: Params, *, urgent: bool = True) -> int:
        text, pick = compile_sql(sql, SQLITE)
        return await self._batcher.write((text, pick(params)), urgent=urgent)

    async def announce_work(self) -> None:
        self._work.set()  # workers of other processes find it at their next poll

    async def wait_for_work(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), timeout)
        self._work.clear()

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database file, in aiosqlite's thread (it may fsync)."""
        try:
            async with self._lock:  # not inside another coroutine's transaction
                await self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            log.warning("WAL checkpoint failed; the next one retries", exc_info=True)


def _unique(error: sqlite3.IntegrityError) -> Exception:
    """A UNIQUE failure as UniqueViolation; any other integrity error as it is."""
    if "UNIQUE" in str(error):
        return UniqueViolation(str(error))
    return error
