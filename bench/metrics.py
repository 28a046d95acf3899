"""`/metrics` scrape benchmark (issue 17, goal: a scrape < 50 ms with 10,000 runs).

    python bench/metrics.py [--runs 10000] [--scrapes 300] [--no-postgresql]

Fills a store with `--runs` runs spread over every state (and as many deliveries, 2% of them
failed), then scrapes `GET /metrics` of the real web app over loopback HTTP, one scrape at a
time: the store's aggregates (runs by state, the oldest queued run, failed deliveries) read
at each scrape, and this process's metrics after a run's worth of observations. SQLite, and
PostgreSQL when Debian's server binaries are installed (a throwaway server). Prints median
and p95 milliseconds of the whole scrape and of the store's read alone; writes
bench/results/metrics.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402

from bot.handlers import build_router  # noqa: E402
from bot.handlers.dispatcher import Dispatcher  # noqa: E402
from bot.runs.models import RunState  # noqa: E402
from bot.runs.store import RunStore, opened_store  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.telemetry.metrics import process_metrics  # noqa: E402
from bot.testing.loopback import served  # noqa: E402
from bot.testing.postgres import new_database, postgres_bin, temporary_postgres  # noqa: E402
from bot.web.app import create_app  # noqa: E402

RESULTS = REPO / "bench" / "results" / "metrics.json"
GOAL_MS = 50.0
_ENDED = (RunState.SUCCEEDED, RunState.ESCALATED, RunState.FAILED, RunState.CANCELLED)
_RUN = (
    "INSERT INTO runs (repository, issue, requester, trigger_kind, instructions, "
    "installation_id, delivery_id, state, attempts, created_at, updated_at, iteration) "
    "VALUES (:repository, :issue, :requester, 'label', '', 1, :delivery_id, :state, 1, :now, "
    ":now, 0)"
)
_DELIVERY = (
    "INSERT INTO deliveries (delivery_id, event, action, installation_id, payload, "
    "received_at, processed_at, error) VALUES (:delivery_id, 'issues', 'labeled', 1, 'null', "
    ":now, :now, :error)"
)


def rows(count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Runs (issue n of one of 50 repositories; the last 20 active, the rest ended) and their
    deliveries."""
    now = time.time()
    runs, deliveries = [], []
    for n in range(count):
        active = n >= count - 20
        state = (RunState.QUEUED if n % 2 else RunState.RUNNING) if active else _ENDED[n % 4]
        runs.append(
            {
                "repository": f"octo/repo-{n % 50}",
                "issue": n,
                "requester": "alice",
                "delivery_id": f"d-{n}",
                "state": state.value,
                "now": now - (count - n),
            }
        )
        error = "RuntimeError: it broke" if n % 50 == 0 else None
        deliveries.append({"delivery_id": f"d-{n}", "now": now - (count - n), "error": error})
    return runs, deliveries


async def fill(store: RunStore, count: int) -> None:
    db = store._db  # type: ignore[attr-defined]  # a benchmark's bulk load, behind the store
    runs, deliveries = rows(count)
    async with db.transaction() as session:
        for statement, values in ((_RUN, runs), (_DELIVERY, deliveries)):
            for value in values:
                await session.execute(statement, value)


def observe_a_run() -> None:
    """What one run records in this process: its model calls, sandboxes, GitHub's limit."""
    metrics = process_metrics()
    for _ in range(12):
        metrics.model_call("openai/gpt-4o-mini", 3000, 400, 0.0007)
    metrics.sandbox_setup.labels("true").observe(0.4)
    metrics.sandbox_start.observe(0.6)
    metrics.github_response(1, {"X-RateLimit-Remaining": "4900"})
    steps = [("cloned", 1.0), ("setup", 0.4), ("baseline", 3.0), ("agent", 40.0)]
    metrics.run_ended("succeeded", 60.0, steps)


def quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
    }


async def measure(database_url: str, runs: int, scrapes: int) -> dict[str, Any]:
    settings = Settings.from_env({"DATABASE_URL": database_url, "WEBHOOK_SECRET": "x" * 16})
    async with opened_store(database_url) as store:
        await fill(store, runs)

        async def no_github(installation_id: int) -> Any:
            raise RuntimeError("the benchmark delivers no webhooks")

        dispatcher = Dispatcher(store, settings, no_github, build_router())
        app = create_app(webhook_secret="x" * 16, store=store, dispatcher=dispatcher)
        whole, reads = [], []
        async with served(app) as url, aiohttp.ClientSession() as session:
            for n in range(scrapes + 20):
                started = time.perf_counter()
                async with session.get(f"{url}/metrics") as response:
                    text = await response.text()
                    assert response.status == 200 and "patchbot_runs{" in text
                scraped = time.perf_counter() - started
                started = time.perf_counter()
                await store.run_counts()
                read = time.perf_counter() - started
                if n >= 20:  # after a warm-up
                    whole.append(scraped)
                    reads.append(read)
        counts = await store.run_counts()
    return {
        "runs": sum(counts.by_state.values()),
        "scrapes": scrapes,
        "bytes": len(text.encode()),
        "scrape": quantiles(whole),
        "store_read": quantiles(reads),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    observe_a_run()
    results: dict[str, Any] = {"goal_ms": GOAL_MS, "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'patchbot.db'}"
        results["sqlite"] = await measure(url, args.runs, args.scrapes)
    if args.postgresql and (postgres_bin() / "initdb").exists():
        with temporary_postgres() as server:
            url = await new_database(server, "bench_metrics")
            results["postgresql"] = await measure(url, args.runs, args.scrapes)
    results["load_after"] = os.getloadavg()[0]
    return results


def report(results: dict[str, Any]) -> None:
    print(f"\n/metrics scrape, one at a time over loopback HTTP (goal p95 < {GOAL_MS:g} ms)")
    print(
        f"{'store':<11} {'runs':>7} {'bytes':>7} {'scrape p50':>11} {'p95':>8} "
        f"{'store read p50':>15} {'p95':>8}  goal"
    )
    for name in ("sqlite", "postgresql"):
        if name not in results:
            continue
        row = results[name]
        scrape, read = row["scrape"], row["store_read"]
        met = "met" if scrape["p95_ms"] < GOAL_MS else "MISSED"
        print(
            f"{name:<11} {row['runs']:>7,} {row['bytes']:>7,} {scrape['median_ms']:>8.2f} ms "
            f"{scrape['p95_ms']:>5.2f} ms {read['median_ms']:>12.2f} ms {read['p95_ms']:>5.2f} ms"
            f"  {met}"
        )
    print(f"load average {results['load_before']:.2f} before, {results['load_after']:.2f} after")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--no-postgresql", dest="postgresql", action="store_false")
    found = asyncio.run(main(parser.parse_args()))
    report(found)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")
