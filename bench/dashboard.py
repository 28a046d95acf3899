"""Dashboard benchmark: the pages' latency over HTTP with a big store.

Fills a SQLite store with 10,000 runs over 20 repositories and 26 weeks (every state, pull
requests, costs, 40 held runs) and writes realistic traces (a 30-step agent run: prompts, the
model's answers, tool calls with kilobytes of output, the verification with its diff) for 200
of them; serves the dashboard as `patchbot serve` mounts it, in its own process; then asks
each page over loopback, one request at a time, and reports p50/p95/max per page: the runs
list (first page, a deep page, filtered, and as a person who may read 10 repositories), a
run's page (its timeline from the trace), the approvals and the KPIs (as computed once and
kept while the store is unchanged, and "after a change": a run written before each request,
so the page is computed again: 10,000 runs read in one query).

    python bench/dashboard.py [--runs 10000] [--requests 200]

Prints a table and writes bench/results/dashboard.json. Goal: p95 < 200 ms for the runs page,
a run's page and the KPI page at 10,000 runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.dashboard.sessions import SESSION_COOKIE, Signer, session_for  # noqa: E402
from bot.runs.pipeline import trace_path  # noqa: E402
from bot.runs.store import opened_store  # noqa: E402
from bot.testing.loopback import free_port  # noqa: E402

RESULTS = REPO / "bench" / "results" / "dashboard.json"
TOKEN = "bench-dashboard-token-0123456789"
CLIENT_SECRET = "bench-client-secret"
REPOSITORIES = [f"org{index % 4}/service-{index}" for index in range(20)]
STATES = ["succeeded"] * 55 + ["escalated"] * 15 + ["failed"] * 15 + ["cancelled"] * 5
TRACED = 200
HELD = 40


def environment(folder: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'patchbot.db'}",
        "PATCHBOT_DATA_DIR": str(folder / "data"),
        "GITHUB_CLIENT_ID": "Iv1.bench",
        "GITHUB_CLIENT_SECRET": CLIENT_SECRET,
        "PATCHBOT_UI_TOKEN": TOKEN,
        "BENCH_PORT": str(port),
        "PYTHONPATH": str(REPO),
    }


async def fill(folder: Path, runs: int) -> list[int]:
    """The store with `runs` runs, the last `HELD` of them held; the ids of the traced runs."""
    database = folder / "patchbot.db"
    async with opened_store(f"sqlite:///{database}"):
        pass  # the schema, migrated
    rng = random.Random(17)
    now = time.time()
    rows, holds = [], []
    for number in range(1, runs + 1):
        repository = REPOSITORIES[number % len(REPOSITORIES)]
        created = now - (runs - number) / runs * 26 * 7 * 24 * 3600
        state = "awaiting_approval" if number > runs - HELD else rng.choice(STATES)
        cost = None if rng.random() < 0.02 else round(rng.uniform(0.01, 1.5), 4)
        pr = f"https://github.com/{repository}/pull/{number}" if state == "succeeded" else None
        rows.append(
            (
                number,
                repository,
                number,
                f"user{number % 37}",
                "label",
                "",
                1,
                f"d-{number}",
                state,
                1,
                created,
                created + 200,
                created + 5,
                None if state == "awaiting_approval" else created + 200,
                cost,
                "",
                None,
                number,
                pr,
            )
        )
        if state == "awaiting_approval":
            holds.append((number, json.dumps(held_patch(number)), created + 190, "bench"))
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO runs (id, repository, issue, requester, trigger_kind, instructions, "
            "installation_id, delivery_id, state, attempts, created_at, updated_at, started_at, "
            "finished_at, cost_usd, summary, pull_request, iteration, pr_url) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row[:17], 0, row[18]) for row in rows],
        )
        db.executemany(
            "INSERT INTO holds (run_id, content, held_at, held_by) VALUES (?, ?, ?, ?)", holds
        )
    traced = rng.sample(range(1, runs + 1), TRACED)
    for run_id in traced:
        write_trace(trace_path(folder / "data", run_id), rng)
    return traced


def held_patch(number: int) -> dict[str, Any]:
    return {
        "patch": "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n",
        "base_commit": "0" * 40,
        "branch": f"patchbot/issue-{number}",
        "title": f"Fix #{number}",
        "body": "",
        "check_title": "",
        "check_summary": "",
        "autonomy": "pr",
        "commit_message": "fix",
        "approval": {"min_permission": "write"},
        "requester": "user1",
    }


def write_trace(path: Path, rng: random.Random) -> None:
    """A 30-step agent run's trace, as the worker writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    at = time.time() - 3600
    output = "\n".join(f"tests/test_mod.py::test_case_{i} PASSED" for i in range(60))
    events: list[dict[str, Any]] = [
        {"kind": "claimed", "worker": "host:1:abc", "attempt": 1},
        {"kind": "pipeline", "step": "cloned", "detail": "main at 0123abc"},
        {"kind": "solve_start", "issue": "median() of an even count is wrong", "repo": "/w"},
    ]
    for step in range(1, 31):
        events += [
            {
                "kind": "model_request",
                "step": step,
                "message_count": step * 3,
                "new_messages": [{"role": "tool", "tool_call_id": "c", "content": output}],
            },
            {
                "kind": "model_response",
                "step": step,
                "message": {
                    "role": "assistant",
                    "content": "Let me look at the tests.",
                    "tool_calls": [
                        {
                            "id": f"c{step}",
                            "function": {"name": "run_tests", "arguments": '{"path": "tests"}'},
                        }
                    ],
                },
                "usage": {
                    "prompt_tokens": 2000 + 300 * step,
                    "completion_tokens": 120,
                    "cost_usd": 0.004,
                },
                "latency": rng.uniform(0.5, 3),
            },
            {"kind": "tool_call", "step": step, "name": "run_tests", "arguments": "{}"},
            {
                "kind": "tool_result",
                "step": step,
                "name": "run_tests",
                "output": output,
                "duration": rng.uniform(0.1, 2),
            },
        ]
    changes = [
        {
            "id": f"tests/test_mod.py::test_case_{i}",
            "before": "failed",
            "after": "passed",
            "change": "fixed",
            "without_fix": None,
            "note": "",
        }
        for i in range(40)
    ]
    patch = "".join(
        f"--- a/m{i}.py\n+++ b/m{i}.py\n@@ -1,3 +1,3 @@\n-old\n+new\n ctx\n" for i in range(20)
    )
    events += [
        {
            "kind": "verification",
            "attempt": 1,
            "accepted": True,
            "reason": "proven",
            "changes": changes,
            "patch": patch,
        },
        {"kind": "policy_gates", "verdict": "allow", "reasons": []},
        {"kind": "pull_request", "url": "https://github.com/o/r/pull/1", "number": 1},
        {"kind": "finished", "state": "succeeded", "summary": "opened"},
    ]
    with path.open("w") as trace:
        for offset, event in enumerate(events):
            trace.write(json.dumps({"ts": round(at + offset * 0.7, 3), **event}) + "\n")


async def serve() -> None:
    """The dashboard as `patchbot serve` mounts it (in this process, until killed)."""
    from aiohttp import web

    from bot.dashboard.app import PREFIX, dashboard_app
    from bot.settings import Settings

    settings = Settings.from_env()
    async with opened_store(settings.database_url) as store:
        app = web.Application()
        app.add_subapp(PREFIX, dashboard_app(settings, store))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", int(os.environ["BENCH_PORT"])).start()
        await asyncio.Event().wait()


def change_a_run(database: Path) -> None:
    """A write the KPI page must see (as a worker's finishing a run would make): its computed
    page, kept under the store's version, is computed again."""
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE runs SET updated_at = updated_at + 1 WHERE id = (SELECT MAX(id) FROM runs)"
        )


async def measure(
    url: str,
    pages: dict[str, tuple[str, dict[str, str]]],
    requests: int,
    changed: Path,
) -> dict[str, dict[str, float]]:
    """Each page `requests` times, interleaved, one request at a time: latency in ms. A page
    whose name says "after a change" has the store `changed` just before each request."""
    times: dict[str, list[float]] = {name: [] for name in pages}
    async with aiohttp.ClientSession() as http:
        for _ in range(5):  # warm up: templates compiled, statements prepared
            for path, headers in pages.values():
                async with http.get(url + path, headers=headers) as answer:
                    await answer.read()
        for _ in range(requests):
            for name, (path, headers) in pages.items():
                if "after a change" in name:
                    change_a_run(changed)
                started = time.perf_counter()
                async with http.get(url + path, headers=headers) as answer:
                    await answer.read()
                    assert answer.status == 200, (path, answer.status)
                times[name].append((time.perf_counter() - started) * 1000)
    return {name: summary(found) for name, found in times.items()}


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
        "max_ms": round(ordered[-1], 2),
        "n": len(ordered),
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="patchbot-bench-dashboard-") as root:
        folder = Path(root)
        started = time.perf_counter()
        traced = await fill(folder, args.runs)
        print(f"store: {args.runs:,} runs, {TRACED} traces ({time.perf_counter() - started:.1f} s)")
        port = free_port()
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", env=environment(folder, port), cwd=REPO
        )
        try:
            url = f"http://127.0.0.1:{port}"
            await wait_for(url)
            machine = {"Authorization": f"Bearer {TOKEN}"}
            person = session_for("user1", tuple(REPOSITORIES[:10]), 8)
            cookie = {"Cookie": f"{SESSION_COOKIE}={Signer(CLIENT_SECRET).seal(person)}"}
            pages = {
                "runs, first page": ("/ui/", machine),
                "runs, page 100": ("/ui/?page=100", machine),
                "runs, repo + state": (f"/ui/?repo={REPOSITORIES[3]}&state=failed", machine),
                "runs, person (10 repos)": ("/ui/?outcome=pull_request", cookie),
                "run page (traced)": (f"/ui/runs/{traced[0]}", machine),
                "approvals": ("/ui/approvals", machine),
                "KPIs (12 weeks)": ("/ui/kpi", machine),
                "KPIs, after a change": ("/ui/kpi", machine),
            }
            results = await measure(url, pages, args.requests, folder / "patchbot.db")
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), timeout=10)
    print(f"\n{'page':<26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, figures in results.items():
        print(
            f"{name:<26} {figures['p50_ms']:>8.1f} {figures['p95_ms']:>8.1f} "
            f"{figures['max_ms']:>8.1f}"
        )
    pages_goal = ("runs, first page", "run page (traced)", "KPIs (12 weeks)")
    worst = max(results[name]["p95_ms"] for name in pages_goal)
    print(f"\ngoal: runs, run and KPI pages p95 < 200 ms: {'met' if worst < 200 else 'MISSED'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "runs": args.runs,
                "traced": TRACED,
                "requests_per_page": args.requests,
                "pages": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(REPO)}")


async def wait_for(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            try:
                async with http.get(f"{url}/ui/login", allow_redirects=False) as answer:
                    if answer.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the dashboard did not start")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    asyncio.run(serve() if arguments.serve else main(arguments))
