"""RunStore on PostgreSQL: many web replicas and workers on many machines share one database.

Workers claim with `FOR UPDATE SKIP LOCKED`, so two never wait on or take the same run.
The feedback SQL lives in `postgres_feedback`.
Times are Unix seconds from the caller's clock, as in the SQLite store; keep machines in NTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg

from bot.runs import flaky, migrations, postgres_feedback
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
from bot.runs.store import (
    DEAD_ATTEMPT_COST,
    DELIVERY_FIELDS,
    GAVE_UP,
    HOLD_FIELDS,
    INSTALLATION_FIELDS,
    NEW_RUN_FIELDS,
    RUN_FIELDS,
    SPENT_SINCE_POSTGRES,
    STOPPED_BY_REQUEST,
    decided,
    delivery_from_row,
    delivery_values,
    installation_from_row,
    installation_values,
    new_run_values,
    run_from_row,
)

_MIGRATION_LOCK = 0x7061_7463  # pg_advisory_xact_lock key: one migrating process at a time


class PostgresRunStore:
    """RunStore on a PostgreSQL database, through an asyncpg connection pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, database_url: str) -> PostgresRunStore:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
        store = cls(pool)
        await store._migrate()
        return store

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> None:
        await self._pool.fetchval("SELECT 1")

    async def _migrate(self) -> None:
        async with self._pool.acquire() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await db.execute(migrations.CREATE_MIGRATIONS_TABLE)
            applied = {row[0] for row in await db.fetch("SELECT version FROM schema_migrations")}
            for migration in migrations.pending(applied):
                for statement in migrations.statements(migration.postgresql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    time.time(),
                )

    async def _run(self, sql: str, *params: Any) -> Run | None:
        row = await self._pool.fetchrow(sql, *params)
        return run_from_row(row) if row else None

    # Deliveries

    async def record_delivery(self, delivery: Delivery) -> bool:
        inserted = await self._pool.fetchval(
            f"INSERT INTO deliveries ({DELIVERY_FIELDS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id",
            *delivery_values(delivery),
        )
        return inserted is not None

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        row = await self._pool.fetchrow(
            f"SELECT {DELIVERY_FIELDS} FROM deliveries WHERE delivery_id = $1", delivery_id
        )
        return delivery_from_row(row) if row else None

    async def unprocessed_deliveries(
        self, *, received_before: float | None = None, limit: int = 100
    ) -> list[Delivery]:
        rows = await self._pool.fetch(
            f"SELECT {DELIVERY_FIELDS} FROM deliveries WHERE processed_at IS NULL "
            "AND received_at < $1 ORDER BY received_at LIMIT $2",
            received_before if received_before is not None else float("inf"),
            limit,
        )
        return [delivery_from_row(row) for row in rows]

    async def mark_delivery_processed(self, delivery_id: str, error: str | None = None) -> None:
        await self._pool.execute(
            "UPDATE deliveries SET processed_at = $1, error = $2 WHERE delivery_id = $3",
            time.time(),
            error,
            delivery_id,
        )

    async def list_deliveries(self, *, failed: bool = False, limit: int = 50) -> list[Delivery]:
        where = "WHERE error IS NOT NULL" if failed else ""
        rows = await self._pool.fetch(
            f"SELECT {DELIVERY_FIELDS} FROM deliveries {where} ORDER BY received_at DESC LIMIT $1",
            limit,
        )
        return [delivery_from_row(row) for row in rows]

    async def known_deliveries(self, delivery_ids: Iterable[str]) -> set[str]:
        rows = await self._pool.fetch(
            "SELECT delivery_id FROM deliveries WHERE delivery_id = ANY($1::text[])",
            list(delivery_ids),
        )
        return {row[0] for row in rows}

    # Triggers

    async def claim_trigger(self, key: str, delivery_id: str | None) -> bool:
        inserted = await self._pool.fetchval(
            "INSERT INTO triggers (key, delivery_id, seen_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (key) DO NOTHING RETURNING key",
            key,
            delivery_id,
            time.time(),
        )
        if inserted is not None:
            return True
        stored = await self._pool.fetchval("SELECT delivery_id FROM triggers WHERE key = $1", key)
        return delivery_id is not None and stored == delivery_id

    async def allow_reply(self, key: str, interval: float) -> bool:
        now = time.time()
        allowed = await self._pool.fetchval(
            "INSERT INTO triggers (key, seen_at) VALUES ($1, $2) ON CONFLICT (key) "
            "DO UPDATE SET seen_at = excluded.seen_at WHERE triggers.seen_at <= $3 "
            "RETURNING key",
            key,
            now,
            now - interval,
        )
        return allowed is not None

    # Installations

    async def save_installation(self, installation: Installation) -> None:
        await self._pool.execute(
            f"INSERT INTO installations ({INSTALLATION_FIELDS}) VALUES ($1, $2, $3, $4, $5, $6) "
            "ON CONFLICT (id) DO UPDATE "
            "SET account = excluded.account, repository_selection = excluded.repository_selection,"
            " repositories = excluded.repositories, suspended = excluded.suspended, "
            "updated_at = excluded.updated_at",
            *installation_values(installation),
        )

    async def delete_installation(self, installation_id: int) -> None:
        await self._pool.execute("DELETE FROM installations WHERE id = $1", installation_id)

    async def get_installation(self, installation_id: int) -> Installation | None:
        row = await self._pool.fetchrow(
            "SELECT * FROM installations WHERE id = $1", installation_id
        )
        return installation_from_row(row) if row else None

    # Runs

    async def create_run(self, new: NewRun) -> tuple[Run, bool]:
        if new.delivery_id is not None:
            existing = await self._run(
                f"SELECT {RUN_FIELDS} FROM runs WHERE delivery_id = $1", new.delivery_id
            )
            if existing is not None:
                return existing, False
        now = time.time()
        try:
            run = await self._run(
                f"INSERT INTO runs ({NEW_RUN_FIELDS}, state, created_at, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $11) "
                f"RETURNING {RUN_FIELDS}",
                *new_run_values(new),
                now,
            )
        except asyncpg.UniqueViolationError as error:
            if error.constraint_name == "runs_delivery_id_key" and new.delivery_id:
                raced = await self._run(
                    f"SELECT {RUN_FIELDS} FROM runs WHERE delivery_id = $1", new.delivery_id
                )
                if raced is not None:
                    return raced, False
            active = await self.active_run(new.repository, new.issue)
            if active is None:  # it finished in between: the caller may simply try again
                raise
            raise ActiveRunExists(active) from error
        assert run is not None
        return run, True

    async def get_run(self, run_id: int) -> Run | None:
        return await self._run(f"SELECT {RUN_FIELDS} FROM runs WHERE id = $1", run_id)

    async def list_runs(self, *, limit: int = 50, state: RunState | None = None) -> list[Run]:
        rows = await self._pool.fetch(
            f"SELECT {RUN_FIELDS} FROM runs WHERE ($1::text IS NULL OR state = $1) "
            "ORDER BY id DESC LIMIT $2",
            state.value if state else None,
            limit,
        )
        return [run_from_row(row) for row in rows]

    async def active_run(self, repository: str, issue: int) -> Run | None:
        return await self._run(
            f"SELECT {RUN_FIELDS} FROM runs WHERE repository = $1 AND issue = $2 "
            "AND state IN ('queued', 'running', 'awaiting_approval')",
            repository,
            issue,
        )

    async def spent_since(
        self, since: float, repository: str, installation_id: int, *, excluding: int
    ) -> tuple[float, float]:
        row = await self._pool.fetchrow(
            SPENT_SINCE_POSTGRES, repository, installation_id, since, excluding
        )
        return float(row[0]), float(row[1])

    async def latest_run(self, repository: str, issue: int) -> Run | None:
        return await self._run(
            f"SELECT {RUN_FIELDS} FROM runs WHERE repository = $1 AND issue = $2 "
            "ORDER BY id DESC LIMIT 1",
            repository,
            issue,
        )

    async def claim_run(self, worker: str, lease_seconds: float, max_attempts: int) -> Run | None:
        now = time.time()
        async with self._pool.acquire() as db, db.transaction():
            await db.execute(
                "UPDATE runs SET state = 'cancelled', summary = $1, finished_at = $2, "
                "updated_at = $2, lease_owner = NULL, lease_expires_at = NULL, cost_usd = NULL "
                "WHERE state = 'running' AND lease_expires_at < $2 AND cancel_requested = 1",
                STOPPED_BY_REQUEST,
                now,
            )
            await db.execute(
                "UPDATE runs SET state = 'failed', summary = $1, finished_at = $2, "
                "updated_at = $2, lease_owner = NULL, lease_expires_at = NULL, cost_usd = NULL "
                "WHERE state = 'running' AND lease_expires_at < $2 AND attempts >= $3",
                GAVE_UP.format(attempts=max_attempts),
                now,
                max_attempts,
            )
            row = await db.fetchrow(
                "UPDATE runs SET state = 'running', lease_owner = $1, lease_expires_at = $2, "
                "attempts = attempts + 1, started_at = COALESCE(started_at, $3), updated_at = $3, "
                f"cost_usd = {DEAD_ATTEMPT_COST} "
                "WHERE id = (SELECT id FROM runs "
                "WHERE (state = 'queued' AND (not_before IS NULL OR not_before <= $3)) "
                "OR (state = 'running' AND lease_expires_at < $3) "
                "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                f"RETURNING {RUN_FIELDS}",
                worker,
                now + lease_seconds,
                now,
            )
        return run_from_row(row) if row else None

    async def heartbeat(self, run_id: int, worker: str, lease_seconds: float) -> Run:
        now = time.time()
        run = await self._run(
            "UPDATE runs SET lease_expires_at = $1, updated_at = $2 "
            f"WHERE id = $3 AND lease_owner = $4 AND state = 'running' RETURNING {RUN_FIELDS}",
            now + lease_seconds,
            now,
            run_id,
            worker,
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
        run = await self._run(
            "UPDATE runs SET state = $1, summary = $2, cost_usd = cost_usd + $3, "
            "finished_at = $4, updated_at = $4, lease_owner = NULL, lease_expires_at = NULL "
            f"WHERE id = $5 AND lease_owner = $6 AND state = 'running' RETURNING {RUN_FIELDS}",
            state.value,
            summary,
            cost_usd,
            now,
            run_id,
            worker,
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
        now = time.time()
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                # A stop asked for meanwhile wins: the run ends instead of waiting.
                "UPDATE runs SET state = CASE WHEN cancel_requested = 1 THEN 'cancelled' "
                "ELSE 'awaiting_approval' END, summary = CASE WHEN cancel_requested = 1 "
                "THEN $6 ELSE $1 END, "
                "finished_at = CASE WHEN cancel_requested = 1 THEN $3::float8 END, "
                "cost_usd = cost_usd + $2, updated_at = $3, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE id = $4 AND lease_owner = $5 "
                f"AND state = 'running' RETURNING {RUN_FIELDS}",
                summary,
                cost_usd,
                now,
                run_id,
                worker,
                STOPPED_BY_REQUEST,
            )
            if row is None:
                raise LeaseLost(run_id, worker)
            await connection.execute(
                "INSERT INTO holds (run_id, content, held_at, held_by) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (run_id) DO UPDATE SET content = excluded.content, "
                "held_at = excluded.held_at, held_by = excluded.held_by, decision = NULL, "
                "decided_by = NULL, decided_at = NULL",
                run_id,
                content,
                now,
                worker,
            )
        return run_from_row(row)

    async def keep_hold(self, run_id: int, worker: str, content: str) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            held = await connection.fetchval(
                "SELECT id FROM runs WHERE id = $1 AND lease_owner = $2 AND state = 'running' "
                "FOR UPDATE",
                run_id,
                worker,
            )
            if held is None:
                raise LeaseLost(run_id, worker)
            await connection.execute(
                "INSERT INTO holds (run_id, content, held_at, held_by) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (run_id) DO UPDATE SET content = excluded.content, "
                "held_at = excluded.held_at, held_by = excluded.held_by",
                run_id,
                content,
                time.time(),
                worker,
            )

    async def previous_run(self, repository: str, issue: int, run_id: int) -> Run | None:
        return await self._run(
            f"SELECT {RUN_FIELDS} FROM runs WHERE repository = $1 AND issue = $2 AND id < $3 "
            "AND pull_request IS NULL ORDER BY id DESC LIMIT 1",
            repository,
            issue,
            run_id,
        )

    async def get_hold(self, run_id: int) -> Hold | None:
        row = await self._pool.fetchrow(
            f"SELECT {HOLD_FIELDS} FROM holds WHERE run_id = $1", run_id
        )
        return Hold.model_validate(dict(row)) if row else None

    async def decide(self, run_id: int, login: str, decision: Decision) -> Run:
        now = time.time()
        state, summary, finished = decided(decision, login, now)
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(
                "UPDATE runs SET state = $1, summary = $2, finished_at = $3, updated_at = $4, "
                "cancel_requested = 0 "
                f"WHERE id = $5 AND state = 'awaiting_approval' RETURNING {RUN_FIELDS}",
                state.value,
                summary,
                finished,
                now,
                run_id,
            )
            if row is None:
                raise RunNotFound(f"run {run_id} is not waiting for an approval")
            await connection.execute(
                "UPDATE holds SET decision = $1, decided_by = $2, decided_at = $3 "
                "WHERE run_id = $4",
                decision,
                login,
                now,
                run_id,
            )
        return run_from_row(row)

    async def cancel_run(self, run_id: int) -> Run:
        now = time.time()
        async with self._pool.acquire() as connection, connection.transaction():
            # One transaction, the run locked: a worker cannot hold or finish it in between.
            await connection.execute("SELECT id FROM runs WHERE id = $1 FOR UPDATE", run_id)
            row = await connection.fetchrow(
                "UPDATE runs SET state = 'cancelled', summary = $1, finished_at = $2, "
                "updated_at = $2 WHERE id = $3 AND state IN ('queued', 'awaiting_approval') "
                f"RETURNING {RUN_FIELDS}",
                STOPPED_BY_REQUEST,
                now,
                run_id,
            ) or await connection.fetchrow(
                "UPDATE runs SET cancel_requested = 1, updated_at = $1 "
                f"WHERE id = $2 AND state = 'running' RETURNING {RUN_FIELDS}",
                now,
                run_id,
            )
        if row is not None:
            return run_from_row(row)
        run = await self.get_run(run_id)
        if run is None:
            raise RunNotFound.missing(run_id)
        return run

    async def postpone_run(self, run_id: int, not_before: float) -> Run | None:
        return await self._run(
            "UPDATE runs SET not_before = GREATEST(not_before, $1), updated_at = $2 "
            f"WHERE id = $3 AND state = 'queued' RETURNING {RUN_FIELDS}",
            not_before,
            time.time(),
            run_id,
        )

    async def record_pull_request(self, run_id: int, url: str) -> None:
        await self._pool.execute(
            "UPDATE runs SET pr_url = $1, updated_at = $2 WHERE id = $3", url, time.time(), run_id
        )

    async def pull_runs(self, repository: str, pull_request: int) -> list[Run]:
        rows = await self._pool.fetch(
            f"SELECT {RUN_FIELDS} FROM runs WHERE repository = $1 AND pull_request = $2 "
            "ORDER BY id",
            repository,
            pull_request,
        )
        return [run_from_row(row) for row in rows]

    # Feedback

    async def remember_flaky(
        self, repository: str, commit: str, tests: Mapping[str, Sequence[str]]
    ) -> None:
        await flaky.remember_postgres(self._pool, repository, commit, tests)

    async def known_flaky(self, repository: str) -> list[flaky.FlakyTest]:
        return await flaky.known_postgres(self._pool, repository)

    async def add_feedback(self, item: NewFeedback) -> bool:
        return await postgres_feedback.add(self._pool, item)

    async def take_feedback(
        self, run_id: int, repository: str, pull_request: int
    ) -> list[Feedback]:
        async with self._pool.acquire() as db, db.transaction():
            return await postgres_feedback.take(db, run_id, repository, pull_request)

    async def pending_feedback(self, repository: str, pull_request: int) -> list[Feedback]:
        return await postgres_feedback.pending(self._pool, repository, pull_request)
