"""RunStore on SQLite: one machine, WAL mode. Runs, feedback and installations go through
aiosqlite (feedback SQL in `sqlite_feedback`); webhook deliveries, the hot path, through the
group-committing `DeliveryBatcher`."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.runs import flaky, migrations, sqlite_feedback
from bot.runs.models import (
    ActiveRunExists,
    Decision,
    Delivery,
    Feedback,
    Hold,
    Installation,
    LeaseLost,
    NewFeedback,
    NewRun,
    Run,
    RunNotFound,
    RunState,
)
from bot.runs.sqlite_batch import DeliveryBatcher
from bot.runs.store import (
    DEAD_ATTEMPT_COST,
    DELIVERY_FIELDS,
    GAVE_UP,
    HOLD_FIELDS,
    INSTALLATION_FIELDS,
    NEW_RUN_FIELDS,
    RUN_FIELDS,
    SPENT_SINCE_SQLITE,
    STOPPED_BY_REQUEST,
    decided,
    delivery_from_row,
    installation_from_row,
    installation_values,
    new_run_values,
    run_from_row,
)

T = TypeVar("T")
log = logging.getLogger(__name__)


class SQLiteRunStore:
    """RunStore on one SQLite file; safe to share between processes on one machine."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self._deliveries = DeliveryBatcher(path, self._checkpoint)

    @classmethod
    async def open(cls, path: Path) -> SQLiteRunStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None, timeout=30.0)
        db.row_factory = aiosqlite.Row
        # WAL: readers never block the writer. synchronous=NORMAL: a commit survives the
        # process dying at any moment; only a power cut can lose the last transactions.
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=30000")
        store = cls(db, path)
        await store._migrate()
        return store

    async def close(self) -> None:
        await self._deliveries.close()
        await self._db.close()

    async def ping(self) -> None:
        await self._db.execute("SELECT 1")

    async def _migrate(self) -> None:
        async def apply(db: aiosqlite.Connection) -> None:
            await db.execute(migrations.CREATE_MIGRATIONS_TABLE)
            rows = await db.execute_fetchall("SELECT version FROM schema_migrations")
            for migration in migrations.pending({row[0] for row in rows}):
                for statement in migrations.statements(migration.sqlite):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, time.time()),
                )

        await self._transaction(apply)

    async def _transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run `work` in one write transaction (BEGIN IMMEDIATE takes the write lock up front)."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                result = await work(self._db)
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")
            return result

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database file, in aiosqlite's thread (it may fsync)."""
        try:
            async with self._lock:  # not inside another coroutine's transaction
                await self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            log.warning("WAL checkpoint failed; the next one retries", exc_info=True)

    async def _one(self, sql: str, params: tuple[Any, ...] = ()) -> aiosqlite.Row | None:
        # Fetched to the end in one call: a statement left open across an await would hold a
        # read snapshot, and a write transaction begun meanwhile on this connection would fail
        # at once ("database is locked") after the delivery writer committed.
        rows = list(await self._db.execute_fetchall(sql, params))
        return rows[0] if rows else None

    async def _write_run(self, sql: str, params: tuple[Any, ...]) -> Run | None:
        """One `... RETURNING` statement on a run, in its own write transaction; the run, or
        None when no row matched."""
        row = await self._transaction(lambda db: self._one(sql, params))
        return run_from_row(row) if row else None

    # Deliveries

    async def record_delivery(self, delivery: Delivery) -> bool:
        return await self._deliveries.record(delivery)

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        row = await self._one(
            f"SELECT {DELIVERY_FIELDS} FROM deliveries WHERE delivery_id = ?", (delivery_id,)
        )
        return delivery_from_row(row) if row else None

    async def unprocessed_deliveries(
        self, *, received_before: float | None = None, limit: int = 100
    ) -> list[Delivery]:
        rows = await self._db.execute_fetchall(
            f"SELECT {DELIVERY_FIELDS} FROM deliveries WHERE processed_at IS NULL "
            "AND received_at < ? ORDER BY received_at LIMIT ?",
            (received_before if received_before is not None else float("inf"), limit),
        )
        return [delivery_from_row(row) for row in rows]

    async def mark_delivery_processed(self, delivery_id: str, error: str | None = None) -> None:
        await self._deliveries.mark_processed(delivery_id, error)

    async def list_deliveries(self, *, failed: bool = False, limit: int = 50) -> list[Delivery]:
        where = "WHERE error IS NOT NULL" if failed else ""
        rows = await self._db.execute_fetchall(
            f"SELECT {DELIVERY_FIELDS} FROM deliveries {where} ORDER BY received_at DESC LIMIT ?",
            (limit,),
        )
        return [delivery_from_row(row) for row in rows]

    async def known_deliveries(self, delivery_ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        ids = list(delivery_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self._db.execute_fetchall(
                "SELECT delivery_id FROM deliveries WHERE delivery_id IN "
                f"({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update(row[0] for row in rows)
        return found

    # Triggers

    async def claim_trigger(self, key: str, delivery_id: str | None) -> bool:
        async def claim(db: aiosqlite.Connection) -> bool:
            cursor = await db.execute(
                "INSERT INTO triggers (key, delivery_id, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (key, delivery_id, time.time()),
            )
            if cursor.rowcount == 1:
                return True
            row = await self._one("SELECT delivery_id FROM triggers WHERE key = ?", (key,))
            return row is not None and delivery_id is not None and row[0] == delivery_id

        return await self._transaction(claim)

    async def allow_reply(self, key: str, interval: float) -> bool:
        now = time.time()
        row = await self._transaction(
            lambda db: self._one(
                "INSERT INTO triggers (key, seen_at) VALUES (?, ?) ON CONFLICT (key) "
                "DO UPDATE SET seen_at = excluded.seen_at WHERE triggers.seen_at <= ? "
                "RETURNING key",
                (key, now, now - interval),
            )
        )
        return row is not None

    # Installations

    async def save_installation(self, installation: Installation) -> None:
        async def save(db: aiosqlite.Connection) -> None:
            await db.execute(
                f"INSERT INTO installations ({INSTALLATION_FIELDS}) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET "
                "account = excluded.account, repository_selection = excluded.repository_selection,"
                " repositories = excluded.repositories, suspended = excluded.suspended, "
                "updated_at = excluded.updated_at",
                installation_values(installation),
            )

        await self._transaction(save)

    async def delete_installation(self, installation_id: int) -> None:
        async def delete(db: aiosqlite.Connection) -> None:
            await db.execute("DELETE FROM installations WHERE id = ?", (installation_id,))

        await self._transaction(delete)

    async def get_installation(self, installation_id: int) -> Installation | None:
        row = await self._one("SELECT * FROM installations WHERE id = ?", (installation_id,))
        return installation_from_row(row) if row else None

    # Runs

    async def create_run(self, new: NewRun) -> tuple[Run, bool]:
        async def create(db: aiosqlite.Connection) -> tuple[Run, bool]:
            if new.delivery_id is not None:
                row = await self._one(
                    f"SELECT {RUN_FIELDS} FROM runs WHERE delivery_id = ?", (new.delivery_id,)
                )
                if row is not None:
                    return run_from_row(row), False
            active = await self.active_run(new.repository, new.issue)
            if active is not None:
                raise ActiveRunExists(active)
            now = time.time()
            row = await self._one(
                f"INSERT INTO runs ({NEW_RUN_FIELDS}, state, created_at, updated_at) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?) RETURNING {RUN_FIELDS}",
                (*new_run_values(new), now, now),
            )
            assert row is not None
            return run_from_row(row), True

        return await self._transaction(create)

    async def get_run(self, run_id: int) -> Run | None:
        row = await self._one(f"SELECT {RUN_FIELDS} FROM runs WHERE id = ?", (run_id,))
        return run_from_row(row) if row else None

    async def list_runs(self, *, limit: int = 50, state: RunState | None = None) -> list[Run]:
        where, params = ("WHERE state = ?", (state.value,)) if state else ("", ())
        rows = await self._db.execute_fetchall(
            f"SELECT {RUN_FIELDS} FROM runs {where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [run_from_row(row) for row in rows]

    async def active_run(self, repository: str, issue: int) -> Run | None:
        row = await self._one(
            f"SELECT {RUN_FIELDS} FROM runs WHERE repository = ? AND issue = ? "
            "AND state IN ('queued', 'running', 'awaiting_approval')",
            (repository, issue),
        )
        return run_from_row(row) if row else None

    async def spent_since(
        self, since: float, repository: str, installation_id: int, *, excluding: int
    ) -> tuple[float, float]:
        row = await self._one(SPENT_SINCE_SQLITE, (repository, installation_id, since, excluding))
        assert row is not None
        return float(row[0]), float(row[1])

    async def latest_run(self, repository: str, issue: int) -> Run | None:
        row = await self._one(
            f"SELECT {RUN_FIELDS} FROM runs WHERE repository = ? AND issue = ? "
            "ORDER BY id DESC LIMIT 1",
            (repository, issue),
        )
        return run_from_row(row) if row else None

    async def claim_run(self, worker: str, lease_seconds: float, max_attempts: int) -> Run | None:
        async def claim(db: aiosqlite.Connection) -> Run | None:
            now = time.time()
            await db.execute(
                "UPDATE runs SET state = 'cancelled', summary = ?, finished_at = ?, "
                "updated_at = ?, lease_owner = NULL, lease_expires_at = NULL, cost_usd = NULL "
                "WHERE state = 'running' AND lease_expires_at < ? AND cancel_requested = 1",
                (STOPPED_BY_REQUEST, now, now, now),
            )
            await db.execute(
                "UPDATE runs SET state = 'failed', summary = ?, finished_at = ?, updated_at = ?, "
                "lease_owner = NULL, lease_expires_at = NULL, cost_usd = NULL "
                "WHERE state = 'running' AND lease_expires_at < ? AND attempts >= ?",
                (GAVE_UP.format(attempts=max_attempts), now, now, now, max_attempts),
            )
            row = await self._one(
                "UPDATE runs SET state = 'running', lease_owner = ?, lease_expires_at = ?, "
                "attempts = attempts + 1, started_at = COALESCE(started_at, ?), updated_at = ?, "
                f"cost_usd = {DEAD_ATTEMPT_COST} "
                "WHERE id = (SELECT id FROM runs "
                "WHERE (state = 'queued' AND (not_before IS NULL OR not_before <= ?)) "
                "OR (state = 'running' AND lease_expires_at < ?) ORDER BY id LIMIT 1) "
                f"RETURNING {RUN_FIELDS}",
                (worker, now + lease_seconds, now, now, now, now),
            )
            return run_from_row(row) if row else None

        return await self._transaction(claim)

    async def heartbeat(self, run_id: int, worker: str, lease_seconds: float) -> Run:
        now = time.time()
        run = await self._write_run(
            "UPDATE runs SET lease_expires_at = ?, updated_at = ? "
            f"WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING {RUN_FIELDS}",
            (now + lease_seconds, now, run_id, worker),
        )
        if run is None:
            raise LeaseLost(run_id, worker)
        return run

    async def finish_run(
        self,
        run_id: int,
        worker: str,
        state: RunState,
        summary: str = "",
        cost_usd: float | None = 0.0,
    ) -> Run:
        now = time.time()
        run = await self._write_run(
            "UPDATE runs SET state = ?, summary = ?, cost_usd = cost_usd + ?, "
            "finished_at = ?, updated_at = ?, lease_owner = NULL, lease_expires_at = NULL "
            f"WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING {RUN_FIELDS}",
            (state.value, summary, cost_usd, now, now, run_id, worker),
        )
        if run is None:
            raise LeaseLost(run_id, worker)
        return run

    async def hold_run(
        self,
        run_id: int,
        worker: str,
        content: str,
        summary: str = "",
        cost_usd: float | None = 0.0,
    ) -> Run:
        async def hold(db: aiosqlite.Connection) -> Run:
            now = time.time()
            row = await self._one(
                # A stop asked for meanwhile wins: the run ends instead of waiting.
                "UPDATE runs SET state = CASE WHEN cancel_requested = 1 THEN 'cancelled' "
                "ELSE 'awaiting_approval' END, summary = CASE WHEN cancel_requested = 1 "
                "THEN ? ELSE ? END, finished_at = CASE WHEN cancel_requested = 1 THEN ? END, "
                "cost_usd = cost_usd + ?, updated_at = ?, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE id = ? AND lease_owner = ? AND state = 'running' "
                f"RETURNING {RUN_FIELDS}",
                (STOPPED_BY_REQUEST, summary, now, cost_usd, now, run_id, worker),
            )
            if row is None:
                raise LeaseLost(run_id, worker)
            await db.execute(
                "INSERT INTO holds (run_id, content, held_at, held_by) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (run_id) DO UPDATE SET content = excluded.content, "
                "held_at = excluded.held_at, held_by = excluded.held_by, decision = NULL, "
                "decided_by = NULL, decided_at = NULL",
                (run_id, content, now, worker),
            )
            return run_from_row(row)

        return await self._transaction(hold)

    async def keep_hold(self, run_id: int, worker: str, content: str) -> None:
        async def keep(db: aiosqlite.Connection) -> None:
            held = await self._one(
                "SELECT id FROM runs WHERE id = ? AND lease_owner = ? AND state = 'running'",
                (run_id, worker),
            )
            if held is None:
                raise LeaseLost(run_id, worker)
            await db.execute(
                "INSERT INTO holds (run_id, content, held_at, held_by) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (run_id) DO UPDATE SET content = excluded.content, "
                "held_at = excluded.held_at, held_by = excluded.held_by",
                (run_id, content, time.time(), worker),
            )

        await self._transaction(keep)

    async def previous_run(self, repository: str, issue: int, run_id: int) -> Run | None:
        row = await self._one(
            f"SELECT {RUN_FIELDS} FROM runs WHERE repository = ? AND issue = ? AND id < ? "
            "AND pull_request IS NULL ORDER BY id DESC LIMIT 1",
            (repository, issue, run_id),
        )
        return run_from_row(row) if row else None

    async def get_hold(self, run_id: int) -> Hold | None:
        row = await self._one(f"SELECT {HOLD_FIELDS} FROM holds WHERE run_id = ?", (run_id,))
        return Hold.model_validate(dict(row)) if row else None

    async def decide(self, run_id: int, login: str, decision: Decision) -> Run:
        async def decide(db: aiosqlite.Connection) -> Run:
            now = time.time()
            state, summary, finished = decided(decision, login, now)
            row = await self._one(
                "UPDATE runs SET state = ?, summary = ?, finished_at = ?, updated_at = ?, "
                "cancel_requested = 0 "
                f"WHERE id = ? AND state = 'awaiting_approval' RETURNING {RUN_FIELDS}",
                (state.value, summary, finished, now, run_id),
            )
            if row is None:
                raise RunNotFound(f"run {run_id} is not waiting for an approval")
            await db.execute(
                "UPDATE holds SET decision = ?, decided_by = ?, decided_at = ? WHERE run_id = ?",
                (decision, login, now, run_id),
            )
            return run_from_row(row)

        return await self._transaction(decide)

    async def cancel_run(self, run_id: int) -> Run:
        async def cancel(db: aiosqlite.Connection) -> Run:
            now = time.time()
            row = await self._one(
                "UPDATE runs SET state = 'cancelled', summary = ?, finished_at = ?, "
                f"updated_at = ? WHERE id = ? AND state IN ('queued', 'awaiting_approval') "
                f"RETURNING {RUN_FIELDS}",
                (STOPPED_BY_REQUEST, now, now, run_id),
            ) or await self._one(
                "UPDATE runs SET cancel_requested = 1, updated_at = ? "
                f"WHERE id = ? AND state = 'running' RETURNING {RUN_FIELDS}",
                (now, run_id),
            )
            if row is None:
                run = await self.get_run(run_id)
                if run is None:
                    raise RunNotFound.missing(run_id)
                return run
            return run_from_row(row)

        return await self._transaction(cancel)

    async def postpone_run(self, run_id: int, not_before: float) -> Run | None:
        return await self._write_run(
            "UPDATE runs SET not_before = MAX(COALESCE(not_before, 0), ?), updated_at = ? "
            f"WHERE id = ? AND state = 'queued' RETURNING {RUN_FIELDS}",
            (not_before, time.time(), run_id),
        )

    async def record_pull_request(self, run_id: int, url: str) -> None:
        async def record(db: aiosqlite.Connection) -> None:
            await db.execute(
                "UPDATE runs SET pr_url = ?, updated_at = ? WHERE id = ?",
                (url, time.time(), run_id),
            )

        await self._transaction(record)

    async def pull_runs(self, repository: str, pull_request: int) -> list[Run]:
        rows = await self._db.execute_fetchall(
            f"SELECT {RUN_FIELDS} FROM runs WHERE repository = ? AND pull_request = ? ORDER BY id",
            (repository, pull_request),
        )
        return [run_from_row(row) for row in rows]

    # Flaky tests

    async def remember_flaky(
        self, repository: str, commit: str, tests: Mapping[str, Sequence[str]]
    ) -> None:
        await self._transaction(lambda db: flaky.remember_sqlite(db, repository, commit, tests))

    async def known_flaky(self, repository: str) -> list[flaky.FlakyTest]:
        return await flaky.known_sqlite(self._db, repository)

    # Feedback

    async def add_feedback(self, item: NewFeedback) -> bool:
        return await self._transaction(lambda db: sqlite_feedback.add(db, item))

    async def take_feedback(
        self, run_id: int, repository: str, pull_request: int
    ) -> list[Feedback]:
        return await self._transaction(
            lambda db: sqlite_feedback.take(db, run_id, repository, pull_request)
        )

    async def pending_feedback(self, repository: str, pull_request: int) -> list[Feedback]:
        return await sqlite_feedback.pending(self._db, repository, pull_request)
