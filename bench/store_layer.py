"""Store layer benchmark (issue 15 item 3): what one statement costs through the store's own
shared-statement layer (`bot.runs.sql`) and through SQLAlchemy Core, on the intake hot path.

    python bench/store_layer.py [--postgresql URL] [--rows 2000] [--rounds 5]

The statement: the delivery insert (`ON CONFLICT DO NOTHING`, 2 kB payload), which every
webhook makes. SQLite, as the store writes deliveries: a batch in one transaction on a plain
`sqlite3` connection, on the event loop (`bot.runs.sqlite_batch`); and one statement at a time
through aiosqlite's thread, as every other statement goes. PostgreSQL (with `--postgresql`, an
empty database): one statement per call on an asyncpg pool. SQLAlchemy rows need
`pip install 'sqlalchemy[asyncio]>=2'` (not a dependency; they are skipped without it).
Prints the median microseconds per statement and the ratio to our layer; writes
bench/results/store_layer.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.runs import statements  # noqa: E402
from bot.runs.migrations import migrate  # noqa: E402
from bot.runs.postgres_db import PostgresDatabase  # noqa: E402
from bot.runs.sql import SQLITE, compile_sql  # noqa: E402
from bot.runs.sqlite_db import SQLiteDatabase  # noqa: E402

RESULTS = REPO / "bench" / "results" / "store_layer.json"
Timings = dict[str, list[float]]


def delivery_rows(tag: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "delivery_id": f"{tag}-{n}",
            "event": "issues",
            "action": "labeled",
            "installation_id": 1,
            "payload": "x" * 2000,
            "received_at": time.time(),
            "processed_at": None,
            "error": None,
        }
        for n in range(count)
    ]


def deliveries_table() -> Any:
    """SQLAlchemy's description of the deliveries table (imported only when installed)."""
    import sqlalchemy as sa

    return sa.table(
        "deliveries", *(sa.column(name) for name in statements.DELIVERY_FIELDS.split(", "))
    )


def sqlite_batches(path: Path, rows: int, rounds: int, timings: Timings) -> None:
    """The delivery insert, `rows` to a transaction, on one synchronous connection."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=NORMAL")
    text, pick = compile_sql(statements.RECORD_DELIVERY, SQLITE)

    def ours(batch: list[dict[str, Any]]) -> None:
        db.execute("BEGIN IMMEDIATE")
        for row in batch:
            db.execute(text, pick(row))
        db.execute("COMMIT")

    runners: dict[str, Callable[[list[dict[str, Any]]], None]] = {"ours": ours}
    try:
        import sqlalchemy as sa
        from sqlalchemy.dialects.sqlite import insert

        engine = sa.create_engine(f"sqlite:///{path}")
        connection = engine.connect()
        core = insert(deliveries_table()).on_conflict_do_nothing(index_elements=["delivery_id"])

        def sqlalchemy(batch: list[dict[str, Any]]) -> None:
            with connection.begin():
                for row in batch:
                    connection.execute(core, row)

        runners["sqlalchemy"] = sqlalchemy
    except ImportError:
        pass
    try:
        for round_ in range(rounds):
            for name, run in runners.items():
                batch = delivery_rows(f"batch-{name}-{round_}", rows)
                started = time.perf_counter()
                run(batch)
                timings.setdefault(f"sqlite batch insert: {name}", []).append(
                    (time.perf_counter() - started) / rows * 1e6
                )
    finally:
        db.close()
        if "sqlalchemy" in runners:
            connection.close()


async def one_at_a_time(
    label: str, ours: Callable[[dict[str, Any]], Awaitable[Any]], url: str, timings: Timings
) -> Callable[[int, int], Awaitable[None]]:
    """A runner of the delivery insert one statement per call, ours and SQLAlchemy's."""
    runners: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {"ours": ours}
    try:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(url)
        if url.startswith("sqlite"):
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        core = insert(deliveries_table()).on_conflict_do_nothing(index_elements=["delivery_id"])

        async def sqlalchemy(row: dict[str, Any]) -> None:
            async with engine.begin() as connection:
                await connection.execute(core, row)

        runners["sqlalchemy"] = sqlalchemy
    except ImportError:
        pass

    async def run(rows: int, rounds: int) -> None:
        for round_ in range(rounds):
            for name, insert_one in runners.items():
                batch = delivery_rows(f"{label}-{name}-{round_}", rows)
                started = time.perf_counter()
                for row in batch:
                    await insert_one(row)
                timings.setdefault(f"{label} insert: {name}", []).append(
                    (time.perf_counter() - started) / rows * 1e6
                )
        if "sqlalchemy" in runners:
            await engine.dispose()

    return run


async def measure(postgresql: str | None, rows: int, rounds: int) -> Timings:
    timings: Timings = {}
    with tempfile.TemporaryDirectory(prefix="patchbot-bench-store-") as root:
        path = Path(root) / "store.db"
        db = await SQLiteDatabase.open(path)
        await migrate(db)
        sqlite_batches(path, rows, rounds, timings)

        async def ours(row: dict[str, Any]) -> int:
            return await db.execute(statements.RECORD_DELIVERY, row)

        run = await one_at_a_time("aiosqlite", ours, f"sqlite+aiosqlite:///{path}", timings)
        try:
            await run(rows // 4, rounds)
        finally:
            await db.close()
    if postgresql:
        pg = await PostgresDatabase.open(postgresql)
        await migrate(pg)

        async def ours_pg(row: dict[str, Any]) -> int:
            return await pg.execute(statements.RECORD_DELIVERY, row)

        url = postgresql.replace("postgresql://", "postgresql+asyncpg://", 1)
        run = await one_at_a_time("asyncpg", ours_pg, url, timings)
        try:
            await run(rows // 4, rounds)
            await pg.execute("DELETE FROM deliveries")
        finally:
            await pg.close()
    return timings


def report(timings: Timings) -> dict[str, Any]:
    medians = {name: statistics.median(samples) for name, samples in timings.items()}
    print(f"{'statement':>40} {'us each':>9} {'vs ours':>8}")
    for name, median in medians.items():
        ours = medians[name.rsplit(":", 1)[0] + ": ours"]
        print(f"{name:>40} {median:>9.1f} {median / ours:>8.2f}")
    return {"median_us": medians, "samples_us": timings}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgresql", help="an empty PostgreSQL database's URL")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results = report(asyncio.run(measure(args.postgresql, args.rows, args.rounds)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")
