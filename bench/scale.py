"""Workers at scale (issue 18): real `patchbot worker` processes on one store.

For 1, 2 and 4 workers on PostgreSQL, and 1 worker on SQLite as the reference: runs are
enqueued one every `--gap` seconds, and each run's pickup latency (enqueue to claim, the
store's own `created_at` and `started_at`) and the runs finished per minute are measured.
Then, with two workers, the one holding a run is SIGKILLed and the time until the other takes
the run over is measured (it waits for the lease to lapse: `PATCHBOT_LEASE_SECONDS`).

The runs use `ClaimOnlyPipeline` (claim, trace, succeed): what is measured is the queue, not
the model or the sandbox. Workers poll the store every `PATCHBOT_POLL_SECONDS` (1 s by
default) unless the store wakes them.

    python bench/scale.py            # about 2 minutes
    python bench/scale.py --quick    # fewer runs

Needs PostgreSQL's server binaries (`apt-get install postgresql`); writes
bench/results/scale.json (with `pickup_p50_ms` per store and worker count).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from bot.runs.models import NewRun, RunState  # noqa: E402
from bot.runs.store import opened_store  # noqa: E402
from bot.testing.postgres import new_database, temporary_postgres  # noqa: E402
from bot.testing.simulator import generate_private_key  # noqa: E402

CLAIM_ONLY = "bot.testing.pipelines:ClaimOnlyPipeline"
BLOCKING = "bot.testing.pipelines:WaitForFilePipeline"
LEASE_SECONDS = 3.0


def worker_environment(database_url: str, data: Path, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHBOT_")}
    env.update(
        DATABASE_URL=database_url,
        PATCHBOT_DATA_DIR=str(data),
        PATCHBOT_LEASE_SECONDS=str(LEASE_SECONDS),
        APP_ID="1",
        PRIVATE_KEY=key,
        PATCHBOT_MODEL="openai/scripted",
        PATCHBOT_MODEL_API_BASE="http://127.0.0.1:9/v1",
        PYTHONPATH=str(ROOT),
    )
    return env


@contextlib.contextmanager
def workers(
    count: int, pipeline: str, env: dict[str, str]
) -> Iterator[list[subprocess.Popen[str]]]:
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "worker", "--name", f"w{i}", "--pipeline", pipeline],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(count)
    ]
    try:
        for process in processes:  # each says so once it works
            assert process.stdout is not None
            line = process.stdout.readline()
            if "started" not in line:
                raise RuntimeError(f"a worker did not start: {line!r}")
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def queue_run(
    database_url: str, env: dict[str, str], count: int, runs: int, gap: float
) -> dict[str, Any]:
    async with opened_store(database_url) as store:
        with workers(count, CLAIM_ONLY, env):
            ids = []
            started = time.time()
            for issue in range(runs):
                run, _ = await store.create_run(
                    NewRun(
                        repository=f"octo/r{issue % 3}",
                        issue=issue + 1,
                        requester="bench",
                        trigger="cli",
                    )
                )
                ids.append(run.id)
                await asyncio.sleep(gap)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                done = [await store.get_run(i) for i in ids]
                if all(r is not None and not r.state.active for r in done):
                    break
                await asyncio.sleep(0.1)
            finished = [r for r in done if r is not None and r.state is RunState.SUCCEEDED]
            pickups = [(r.started_at or r.created_at) - r.created_at for r in finished]
            last = max(r.finished_at or 0.0 for r in finished)
    return {
        "runs": runs,
        "succeeded": len(finished),
        "pickup_p50_ms": round(statistics.median(pickups) * 1000, 1),
        "pickup_p99_ms": round(percentile(pickups, 0.99) * 1000, 1),
        "runs_per_minute": round(len(finished) / (last - started) * 60, 1),
    }


async def take_over(database_url: str, env: dict[str, str]) -> float:
    """Seconds from SIGKILL of the worker holding a run to the other worker's claim."""
    async with opened_store(database_url) as store:
        with workers(2, BLOCKING, env) as processes:
            run, _ = await store.create_run(
                NewRun(repository="octo/kill", issue=1, requester="bench", trigger="cli")
            )
            holder = None
            while holder is None:
                current = await store.get_run(run.id)
                holder = current.lease_owner if current is not None else None
                await asyncio.sleep(0.02)
            processes[int(holder[1:])].send_signal(signal.SIGKILL)
            killed = time.monotonic()
            while True:
                current = await store.get_run(run.id)
                if current is not None and current.lease_owner not in (None, holder):
                    return round(time.monotonic() - killed, 2)
                await asyncio.sleep(0.02)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="runs enqueued per setting")
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between two enqueues")
    parser.add_argument("--quick", action="store_true", help="20 runs per setting")
    args = parser.parse_args()
    runs = 20 if args.quick else args.runs
    key = generate_private_key()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="patchbot-scale-") as tmp, temporary_postgres() as pg:
        settings = [("sqlite", 1), ("postgresql", 1), ("postgresql", 2), ("postgresql", 4)]
        for number, (kind, count) in enumerate(settings):
            if kind == "sqlite":
                url = f"sqlite:///{tmp}/scale{number}.db"
            else:
                url = await new_database(pg, f"scale{number}")
            env = worker_environment(url, Path(tmp) / f"data{number}", key)
            row = {
                "store": kind,
                "workers": count,
                **await queue_run(url, env, count, runs, args.gap),
            }
            if count == 2:
                row["take_over_s"] = await take_over(url, env)
            rows.append(row)
            print(f"  {kind} x{count}: done", file=sys.stderr)
    print(
        f"\nworkers at scale: {runs} runs per setting, one every {args.gap * 1000:.0f} ms, "
        f"ClaimOnlyPipeline, lease {LEASE_SECONDS:g} s"
    )
    print(
        f"{'store':<11} {'workers':>7} {'pickup p50':>11} {'pickup p99':>11} {'runs/min':>9} "
        f"{'take-over':>10}"
    )
    for row in rows:
        over = f"{row['take_over_s']:.2f} s" if "take_over_s" in row else "-"
        print(
            f"{row['store']:<11} {row['workers']:>7} {row['pickup_p50_ms']:>8.1f} ms "
            f"{row['pickup_p99_ms']:>8.1f} ms {row['runs_per_minute']:>9.1f} {over:>10}"
        )
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "scale.json").write_text(
        json.dumps({"runs": runs, "gap_s": args.gap, "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    asyncio.run(main())
