"""A database the last release made (`last_release/`, dumped from main's store before the two
stores became one) opens with this store, keeps every row and goes on where it was; and a
database this store makes has exactly the schema the last release made."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Any

from bot.runs.models import Installation, NewRun, RunState
from bot.runs.store import open_store, sqlite_path
from bot.testing.postgres import new_database

LAST_RELEASE = Path(__file__).parent / "last_release"


async def load_last_release(database_url: str) -> None:
    """Fill the empty database at `database_url` with the last release's dump."""
    if database_url.startswith("sqlite:///"):
        script = (LAST_RELEASE / "sqlite.sql").read_text()
        with contextlib.closing(sqlite3.connect(sqlite_path(database_url))) as db:
            db.executescript(script)
        return
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute((LAST_RELEASE / "postgresql.sql").read_text())
    finally:
        await connection.close()


async def schema(database_url: str) -> list[Any]:
    """Tables, columns, indexes and constraints, as the database itself describes them."""
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(sqlite_path(database_url))) as db:
            return db.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master "
                "WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
            ).fetchall()
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        described = []
        for query in (
            "SELECT table_name, column_name, data_type, is_nullable, column_default, "
            "is_identity, identity_generation FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2",
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace ORDER BY 1",
        ):
            described += [tuple(row) for row in await connection.fetch(query)]
        return described
    finally:
        await connection.close()


async def another_database(database_url: str, tmp_path: Path) -> str:
    """A second empty database of the same kind."""
    if database_url.startswith("sqlite:///"):
        return f"sqlite:///{tmp_path / 'other.db'}"
    server, _ = database_url.rsplit("/", 1)
    return await new_database(server, f"patchbot_other_{os.getpid()}_{uuid.uuid4().hex[:8]}")


async def test_a_database_the_last_release_made_keeps_its_rows(database_url: str) -> None:
    await load_last_release(database_url)
    store = await open_store(database_url)
    try:
        runs = await store.list_runs()
        assert [(r.id, r.issue, r.state, r.cost_usd, r.pull_request) for r in runs] == [
            (3, 1, RunState.QUEUED, 0.0, 9),
            (2, 2, RunState.AWAITING_APPROVAL, 0.125, None),
            (1, 1, RunState.SUCCEEDED, 0.5, None),
        ]
        assert runs[2].pr_url == "https://github.com/octo/hello/pull/9"
        assert (runs[0].iteration, runs[0].not_before, runs[2].delivery_id) == (1, 50.0, "d-done")
        hold = await store.get_hold(2)
        assert hold is not None and (hold.content, hold.held_by) == ("the verified patch", "w1")
        assert [item.body for item in await store.pending_feedback("octo/hello", 9)] == [
            "more tests"
        ]
        assert [d.delivery_id for d in await store.unprocessed_deliveries()] == ["d-new"]
        [failed] = await store.list_deliveries(failed=True)
        assert (failed.delivery_id, failed.error) == ("d-failed", "boom")
        installation = await store.get_installation(7)
        assert installation == Installation(
            id=7,
            account="octo",
            repositories=["octo/hello"],
            updated_at=installation.updated_at if installation else 0.0,
        )
        assert await store.claim_trigger("comment-1", "d-done")  # the same delivery again
        assert not await store.claim_trigger("comment-1", "d-replayed")

        # It goes on where it was: new ids after the old ones, the old runs claimable.
        fresh, created = await store.create_run(
            NewRun(repository="octo/hello", issue=5, requester="bob", trigger="label")
        )
        assert created and fresh.id == 4
        claimed = await store.claim_run("w2", lease_seconds=30, max_attempts=3)
        assert claimed is not None and claimed.id == 3
        taken = await store.take_feedback(3, "octo/hello", 9)
        assert [item.id for item in taken] == [1]
        approved = await store.decide(2, "carol", "approved")
        assert approved.state is RunState.QUEUED
    finally:
        await store.close()


async def test_a_new_database_has_the_schema_the_last_release_made(
    database_url: str, tmp_path: Path
) -> None:
    await (await open_store(database_url)).close()
    released = await another_database(database_url, tmp_path)
    await load_last_release(released)
    await (await open_store(released)).close()  # later migrations, if any, go on top
    assert await schema(database_url) == await schema(released)
