"""Webhook intake benchmark: signed deliveries per second and acknowledgement latency.

Starts the serve-equivalent app (`create_app` with the SQLite store, the dispatcher and one
embedded worker, as `patchbot serve` builds it, but with a GitHub double instead of the App
client) in its own process, posts pre-signed deliveries over loopback at concurrency 1, 16
and 64, then checks that every acknowledged delivery is in the store. Last, it measures how
soon a run orphaned by a SIGKILLed worker is running again under another worker.

    python bench/webhooks.py [--requests 4000]

Prints a table and writes bench/results/webhooks.json. Goals: >= 1,000 deliveries/s, p99 <
25 ms at concurrency 16, zero missing, orphaned run running again within lease + 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.runs.models import NewRun, RunState  # noqa: E402
from bot.runs.store import open_store  # noqa: E402
from bot.testing.simulator import GitHubSimulator  # noqa: E402
from bot.testing.webhooks import build_delivery  # noqa: E402

SECRET = "bench-webhook-secret"
CONCURRENCIES = (1, 16, 64)
RESULTS = REPO / "bench" / "results" / "webhooks.json"
ORPHAN_LEASE = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def serve(port: int, database_url: str, data_dir: str) -> None:
    """The server process: the app `patchbot serve` builds, GitHub replaced by a double."""
    from aiohttp import web

    from bot.handlers import build_router
    from bot.handlers.dispatcher import Dispatcher
    from bot.runs.worker import Worker
    from bot.settings import Settings
    from bot.testing.pipelines import ClaimOnlyPipeline
    from bot.testing.recording_gh import RecordingGitHubAPI
    from bot.web.app import create_app, tune_garbage_collector
    from bot.web.cli import wait_for_signal

    settings = Settings.from_env(
        {"WEBHOOK_SECRET": SECRET, "DATABASE_URL": database_url, "PATCHBOT_DATA_DIR": data_dir}
    )
    store = await open_store(database_url)
    gh = RecordingGitHubAPI()  # the deliveries sent here need no GitHub call

    async def github(installation_id: int) -> RecordingGitHubAPI:
        return gh

    app = create_app(
        webhook_secret=SECRET,
        store=store,
        dispatcher=Dispatcher(store, settings, github, build_router()),
        workers=[Worker(store, ClaimOnlyPipeline(), settings)],
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    tune_garbage_collector()
    print("ready", flush=True)
    await wait_for_signal()
    await runner.cleanup()
    await store.close()


Payloads = tuple[dict[str, Any], dict[str, Any]]


async def handled_payloads() -> Payloads:
    """Payloads of handled events that start no run, from the GitHub simulator: a plain
    `issue_comment`/`created`, and `issues`/`labeled` with another label than `patchbot`."""
    with tempfile.TemporaryDirectory(prefix="patchbot-bench-github-") as root:
        async with GitHubSimulator(Path(root)) as github:
            github.add_repo("bench/hello")
            github.add_installation("bench", ["bench/hello"], installation_id=1)
            issue = github.add_issue("bench/hello", "Hello", author="alice").number
            comment = github.add_comment("bench/hello", issue, "Same here.", author="alice")
            about = {"sender": "alice", "issue": issue}
            commented = await github.payload(
                "issue_comment", "created", "bench/hello", comment=comment, **about
            )
            labeled = await github.payload("issues", "labeled", "bench/hello", label="bug", **about)
    return commented, labeled


def deliveries(payloads: Payloads, count: int, tag: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """Signed deliveries of `handled_payloads`, alternately; each comment's text differs."""
    commented, labeled = payloads
    built = []
    for n in range(count):
        if n % 2:
            body = {**commented, "comment": {**commented["comment"], "body": f"comment {n}"}}
            delivery = build_delivery(
                "issue_comment", body, secret=SECRET, delivery_id=f"{tag}-{n}"
            )
        else:
            delivery = build_delivery("issues", labeled, secret=SECRET, delivery_id=f"{tag}-{n}")
        built.append((delivery.delivery_id, delivery.body, delivery.headers))
    return built


async def blast(
    url: str, batch: list[tuple[str, bytes, dict[str, str]]], concurrency: int
) -> dict[str, Any]:
    latencies: list[float] = []
    acknowledged: list[str] = []
    failures = 0
    queue = list(reversed(batch))
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            nonlocal failures
            while queue:
                delivery_id, body, headers = queue.pop()
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                latencies.append(time.perf_counter() - started)
                if status == 200:
                    acknowledged.append(delivery_id)
                else:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "concurrency": concurrency,
        "requests": len(batch),
        "per_second": round(len(batch) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "failures": failures,
        "acknowledged": acknowledged,
    }


async def orphan_recovery(database_url: str, data_dir: Path) -> float:
    """Seconds from SIGKILL of a worker mid-run until another worker is running the run."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PATCHBOT_DATA_DIR": str(data_dir),
        "PATCHBOT_LEASE_SECONDS": str(ORPHAN_LEASE),
        "PATCHBOT_POLL_SECONDS": "0.5",
        "PYTHONPATH": str(REPO),
    }
    pipeline = "bot.testing.pipelines:WaitForFilePipeline"
    store = await open_store(database_url)
    run, _ = await store.create_run(
        NewRun(repository="bench/orphan", issue=1, requester="bench", trigger="cli")
    )

    def worker(name: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "worker", "--name", name, "--pipeline", pipeline],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    doomed = worker("doomed")
    heir: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = await store.get_run(run.id)
            if current and current.lease_owner == "doomed":
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError("the first worker never claimed the run")
        heir = worker("heir")  # already polling when the first one dies
        await asyncio.sleep(1.0)
        doomed.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        doomed.wait()
        while time.monotonic() < killed + 60:
            current = await store.get_run(run.id)
            if current and current.lease_owner == "heir" and current.state is RunState.RUNNING:
                return time.monotonic() - killed
            await asyncio.sleep(0.02)
        raise RuntimeError("no worker took the orphaned run over within 60 s")
    finally:
        for process in (doomed, heir):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait()
        await store.close()


def start_server(root: Path, database_url: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), database_url, str(root / "data")],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    if server.stdout.readline().strip() != "ready":
        raise RuntimeError("the benchmark server did not start")
    return server, f"http://127.0.0.1:{port}/webhooks"


def stop_server(server: subprocess.Popen[str]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        raise RuntimeError("the benchmark server did not stop on SIGTERM") from None


async def measure(url: str, requests: int, database_url: str) -> list[dict[str, Any]]:
    payloads = await handled_payloads()
    await blast(url, deliveries(payloads, 500, "warmup"), 16)
    rows = []
    for concurrency in CONCURRENCIES:
        count = requests // 2 if concurrency == 1 else requests
        row = await blast(url, deliveries(payloads, count, f"c{concurrency}"), concurrency)
        row["handled_all_after_s"] = await backlog_drained(database_url)
        rows.append(row)
    return rows


async def backlog_drained(database_url: str) -> float:
    """Seconds after the last acknowledgement until every delivery has been handled
    (handling waits while acknowledgements are being made)."""
    started = time.monotonic()
    store = await open_store(database_url)
    try:
        while await store.unprocessed_deliveries(limit=1):  # noqa: ASYNC110 - another process
            await asyncio.sleep(0.02)
    finally:
        await store.close()
    return round(time.monotonic() - started, 2)


async def count_missing(database_url: str, rows: list[dict[str, Any]]) -> None:
    store = await open_store(database_url)
    try:
        for row in rows:
            acknowledged = row.pop("acknowledged")
            row["missing"] = len(set(acknowledged) - await store.known_deliveries(acknowledged))
    finally:
        await store.close()


def main(requests: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="patchbot-bench-"))
    database_url = f"sqlite:///{root / 'patchbot.db'}"
    server, url = start_server(root, database_url)
    try:
        rows = asyncio.run(measure(url, requests, database_url))
    finally:
        stop_server(server)
    asyncio.run(count_missing(database_url, rows))
    recovery = asyncio.run(orphan_recovery(f"sqlite:///{root / 'orphan.db'}", root / "data"))
    at16 = next(row for row in rows if row["concurrency"] == 16)
    return {
        "rows": rows,
        "orphan_running_again_s": round(recovery, 2),
        "orphan_lease_s": ORPHAN_LEASE,
        "goals": {
            "per_second_at_16_ge_1000": at16["per_second"] >= 1000,
            "p99_at_16_lt_25ms": at16["p99_ms"] < 25,
            "zero_missing": all(row["missing"] == 0 for row in rows),
            "orphan_within_lease_plus_5s": recovery <= ORPHAN_LEASE + 5,
        },
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def report(results: dict[str, Any]) -> None:
    print(
        f"{'concurrency':>11} {'requests':>9} {'deliveries/s':>13} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'failed':>7} {'missing':>8} {'all handled +s':>15}"
    )
    for row in results["rows"]:
        print(
            f"{row['concurrency']:>11} {row['requests']:>9} {row['per_second']:>13} "
            f"{row['p50_ms']:>8} {row['p99_ms']:>8} {row['failures']:>7} {row['missing']:>8} "
            f"{row['handled_all_after_s']:>15}"
        )
    print(
        f"orphaned run running again after {results['orphan_running_again_s']} s "
        f"(lease {results['orphan_lease_s']} s)"
    )
    for goal, met in results["goals"].items():
        print(f"  {'met ' if met else 'MISSED'} {goal}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument(
        "--serve", nargs=3, metavar=("PORT", "DATABASE_URL", "DATA_DIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(int(args.serve[0]), args.serve[1], args.serve[2]))
        sys.exit(0)
    results = main(args.requests)
    report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")
