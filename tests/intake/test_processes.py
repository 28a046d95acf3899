"""Real processes: a worker killed with SIGKILL mid-run, `patchbot serve` end to end against
the GitHub simulator, and start-up errors that say how to fix them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.runs.models import NewRun, Run, RunState
from bot.runs.pipeline import trace_path
from bot.runs.store import RunStore, opened_store
from bot.testing.processes import run_patchbot, stopped_at_exit
from bot.testing.simulator import GitHubSimulator
from bot.trace import read_trace

REPO = Path(__file__).resolve().parents[2]
BLOCKING = "bot.testing.pipelines:WaitForFilePipeline"
CLAIM_ONLY = "bot.testing.pipelines:ClaimOnlyPipeline"
SECRET = "process-test-secret"


def environment(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PATCHBOT_", "APP_ID"))}
    env.update(
        DATABASE_URL=database_url,
        PATCHBOT_DATA_DIR=str(tmp_path / "data"),
        PATCHBOT_LEASE_SECONDS="1.5",
        PATCHBOT_POLL_SECONDS="0.1",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


@contextmanager
def patchbot(*args: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`python -m bot ARGS` running in the background; stopped (SIGTERM) at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--log-level", "INFO", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with stopped_at_exit(process):
        yield process


async def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` to its end, without blocking the event loop."""
    return await run_patchbot(*args, env=env, timeout=60)


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def run_in(store: RunStore, run_id: int, **expected: Any) -> Run | None:
    run = await store.get_run(run_id)
    if run is not None and all(getattr(run, k) == v for k, v in expected.items()):
        return run
    return None


@pytest.mark.slow
async def test_killed_worker_s_run_is_taken_over_and_completes_once(
    store: RunStore, database_url: str, tmp_path: Path
) -> None:
    env = environment(tmp_path, database_url)
    run, _ = await store.create_run(
        NewRun(repository="octo/hello", issue=7, requester="alice", trigger="cli")
    )
    with patchbot("worker", "--name", "doomed", "--pipeline", BLOCKING, env=env) as doomed:
        await eventually(
            lambda: run_in(store, run.id, lease_owner="doomed", state=RunState.RUNNING),
            "the first worker to claim the run",
        )
        trace = trace_path(tmp_path / "data", run.id)

        async def pipeline_started() -> bool:
            return trace.exists() and any(e["kind"] == "pipeline" for e in read_trace(trace))

        await eventually(pipeline_started, "the first worker's pipeline to start")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    with patchbot("worker", "--name", "heir", "--pipeline", BLOCKING, env=env):
        taken = await eventually(
            lambda: run_in(store, run.id, lease_owner="heir", state=RunState.RUNNING),
            "the second worker to take the run over after the lease",
        )
        assert taken.attempts == 2
        release = tmp_path / "data" / "release" / str(run.id)
        release.parent.mkdir(parents=True, exist_ok=True)
        release.touch()
        done = await eventually(
            lambda: run_in(store, run.id, state=RunState.SUCCEEDED), "the run to complete"
        )
    assert done.attempts == 2 and done.lease_owner is None
    events = list(read_trace(trace_path(tmp_path / "data", run.id)))
    claims = [e["worker"] for e in events if e["kind"] == "claimed"]
    assert claims == ["doomed", "heir"]
    assert [e["kind"] for e in events].count("finished") == 1


async def test_missing_webhook_secret_stops_serve_with_the_fix(tmp_path: Path) -> None:
    env = environment(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    env.pop("WEBHOOK_SECRET", None)
    done = await cli("serve", "--port", "0", env=env)
    assert done.returncode == 2
    assert "WEBHOOK_SECRET is not set" in done.stderr and "How to fix" in done.stderr


async def test_bad_private_key_stops_serve_with_the_steps(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    env = environment(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        WEBHOOK_SECRET=SECRET,
        APP_ID="12",
        PRIVATE_KEY_PATH=str(key),
    )
    done = await cli("serve", "--port", "0", env=env)
    assert done.returncode == 2
    assert "PRIVATE_KEY_PATH does not hold a PEM private key" in done.stderr
    assert "Generate a private key" in done.stderr


@pytest.mark.slow
async def test_serve_turns_a_label_into_a_finished_run_against_the_simulator(
    tmp_path: Path, free_port: int
) -> None:
    database_url = f"sqlite:///{tmp_path / 'patchbot.db'}"
    async with GitHubSimulator(tmp_path / "github") as github:
        github.add_repo("octo/demo", files={"README.md": "demo\n"})
        github.add_installation("octo", ["octo/demo"])
        github.add_collaborator("octo/demo", "alice", "write")
        github.add_collaborator("octo/demo", "mallory", "read")
        issue = github.add_issue("octo/demo", "Typo in README", author="alice")
        port = free_port
        env = environment(
            tmp_path,
            database_url,
            WEBHOOK_SECRET=SECRET,
            APP_ID=str(github.app_id),
            PRIVATE_KEY=github.private_key_pem,
            GITHUB_API_URL=github.api_url,
        )
        serve = ("serve", "--port", str(port), "--workers", "1", "--pipeline", CLAIM_ONLY)
        with patchbot(*serve, env=env) as server:
            assert server.stdout is not None
            line = await asyncio.to_thread(server.stdout.readline)
            assert "listening" in line, line
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/healthz") as health,
            ):
                report = await health.json()
            assert health.status == 200 and report["store"] == "ok"
            assert [w["alive"] for w in report["workers"]] == [True]
            github.send_webhooks_to(f"http://127.0.0.1:{port}/webhooks", SECRET)
            delivery = await github.label_issue("octo/demo", issue.number, "patchbot", by="alice")
            assert delivery.status == 200, delivery.response
            refused = await github.comment_on(
                "octo/demo", issue.number, "/patchbot fix", by="mallory"
            )
            assert refused.status == 200
            async with opened_store(database_url) as store:
                finished = await eventually(
                    lambda: run_in(store, 1, state=RunState.SUCCEEDED), "the run to finish"
                )
                assert finished.requester == "alice" and finished.trigger == "label"
                assert len(await store.list_runs()) == 1

            def bot_comments() -> list[str]:
                comments = github.repo("octo/demo").comments.values()
                return [
                    c.body
                    for c in comments
                    if c.user.login != "alice" and c.user.login != "mallory"
                ]

            async def two_comments() -> list[str] | None:
                found = bot_comments()
                return found if len(found) == 2 else None

            said = await eventually(two_comments, "the status comment and the refusal")
            assert any("queued run #1" in text for text in said)
            assert any("@mallory" in text and "**write**" in text for text in said)
            shown = await cli("runs", "show", "1", env=env)
            assert shown.returncode == 0, shown.stderr
            assert "succeeded" in shown.stdout and "claimed" in shown.stdout
            listed = await cli("runs", "list", env=env)
            assert "octo/demo#1" in listed.stdout
