"""Real processes: a worker killed with SIGKILL mid-run, `patchbot serve` end to end against
the GitHub simulator, start-up errors that say how to fix them (never a traceback), `/readyz`
of a real server, and its log lines."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.runs.models import NewRun, Run, RunState
from bot.runs.pipeline import trace_path
from bot.runs.store import RunStore, opened_store
from bot.testing.processes import run_patchbot, stopped_at_exit
from bot.testing.simulator import GitHubSimulator, generate_private_key
from bot.trace import read_trace

REPO = Path(__file__).resolve().parents[2]
BLOCKING = "bot.testing.pipelines:WaitForFilePipeline"
CLAIM_ONLY = "bot.testing.pipelines:ClaimOnlyPipeline"
SECRET = "process-test-secret"
_DEPLOYMENT = ("PATCHBOT_", "APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET", "LOG_", "GITHUB_API_URL")
"""The variables a test sets itself: the shell's never leak into the processes it starts."""


@pytest.fixture(scope="module")
def private_key() -> str:
    """An App private key (generating one takes a while): a worker refuses to start without."""
    return generate_private_key()


def environment(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DEPLOYMENT)}
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
def patchbot(
    *args: str, env: dict[str, str], log_level: str | None = "INFO"
) -> Iterator[subprocess.Popen[str]]:
    """`python -m bot ARGS` running in the background, its output (stdout and stderr) in a
    pipe; stopped (SIGTERM) at the end."""
    level = ["--log-level", log_level] if log_level else []
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", *level, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with stopped_at_exit(process):
        yield process


@asynccontextmanager
async def serving(*args: str, env: dict[str, str]) -> AsyncIterator[subprocess.Popen[str]]:
    """`patchbot serve ARGS` (the claim-only pipeline), once it listens; stopped at the end."""
    with patchbot("serve", *args, "--pipeline", CLAIM_ONLY, env=env) as server:
        assert server.stdout is not None
        line = await asyncio.to_thread(server.stdout.readline)
        assert "listening" in line, line
        yield server


def app_environment(tmp_path: Path, github: GitHubSimulator, **extra: str) -> dict[str, str]:
    """A deployment's variables pointed at the simulator and a SQLite store under tmp_path."""
    return environment(
        tmp_path,
        f"sqlite:///{tmp_path / 'patchbot.db'}",
        WEBHOOK_SECRET=SECRET,
        APP_ID=str(github.app_id),
        PRIVATE_KEY=github.private_key_pem,
        GITHUB_API_URL=github.api_url,
        **extra,
    )


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
    store: RunStore, database_url: str, tmp_path: Path, private_key: str
) -> None:
    env = environment(tmp_path, database_url, APP_ID="12", PRIVATE_KEY=private_key)
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


@pytest.mark.slow
async def test_a_stopped_worker_finishes_its_run_and_claims_no_other(
    store: RunStore, database_url: str, tmp_path: Path, private_key: str
) -> None:
    env = environment(tmp_path, database_url, APP_ID="12", PRIVATE_KEY=private_key)
    first, _ = await store.create_run(
        NewRun(repository="octo/hello", issue=7, requester="alice", trigger="cli")
    )
    with patchbot("worker", "--name", "draining", "--pipeline", BLOCKING, env=env) as worker:
        await eventually(
            lambda: run_in(store, first.id, lease_owner="draining", state=RunState.RUNNING),
            "the worker to claim the first run",
        )
        second, _ = await store.create_run(
            NewRun(repository="octo/hello", issue=8, requester="alice", trigger="cli")
        )
        worker.send_signal(signal.SIGTERM)
        await asyncio.sleep(1.0)  # time enough to claim the second run, were it not draining
        assert worker.poll() is None, "it must not stop in the middle of its run"
        release = tmp_path / "data" / "release" / str(first.id)
        release.parent.mkdir(parents=True, exist_ok=True)
        release.touch()
        assert await asyncio.to_thread(worker.wait, 30) == 0
    done = await store.get_run(first.id)
    assert done is not None and done.state is RunState.SUCCEEDED and done.attempts == 1
    waiting = await store.get_run(second.id)
    assert waiting is not None and waiting.state is RunState.QUEUED and waiting.attempts == 0


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


async def test_worker_without_github_credentials_refuses_to_start_with_the_steps(
    tmp_path: Path,
) -> None:
    env = environment(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    done = await cli("worker", "--pipeline", CLAIM_ONLY, env=env)
    assert done.returncode == 2, done.stderr
    assert "APP_ID is not set" in done.stderr
    assert "neither PRIVATE_KEY nor PRIVATE_KEY_PATH is set" in done.stderr
    assert "Generate a private key" in done.stderr and "Traceback" not in done.stderr


def _listening() -> socket.socket:
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    return held


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("--log-level bogus", "argument --log-level: 'bogus' is not one of DEBUG, INFO"),
        ("LOG_LEVEL=bogus", "LOG_LEVEL='BOGUS': Input should be"),
        ("LOG_FORMAT=xml", "LOG_FORMAT='xml': Input should be 'text' or 'json'"),
        ("--port 99999", "argument --port: '99999' is not a TCP port"),
        ("port in use", "cannot listen on 127.0.0.1:PORT"),
        ("key file is a folder", "PRIVATE_KEY_PATH=KEYDIR cannot be read (Is a directory)"),
        ("DATABASE_URL=mysql://db", "DATABASE_URL: must start with sqlite:/// or postgresql://"),
        ("DATABASE_URL=postgresql://x@db:port/x", "DATABASE_URL: not a valid PostgreSQL URL"),
        ("PostgreSQL refuses", "cannot use the PostgreSQL database at postgresql://patchbot:***@"),
    ],
)
async def test_a_bad_value_stops_serve_with_one_message_naming_it_and_exit_2(
    tmp_path: Path, private_key: str, case: str, expected: str
) -> None:
    env = environment(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        WEBHOOK_SECRET=SECRET,
        APP_ID="12",
        PRIVATE_KEY=private_key,
    )
    options = ["--log-level", "INFO", "serve", "--workers", "0", "--port", "0"]
    with _listening() as held:
        port = str(held.getsockname()[1])
        if case.startswith("--"):
            flag, value = case.split()
            options[options.index(flag) + 1] = value
        elif "=" in case:
            name, value = case.split("=", 1)
            env[name] = value
        elif case == "port in use":
            options[-1] = port
        elif case == "key file is a folder":
            del env["PRIVATE_KEY"]
            env["PRIVATE_KEY_PATH"] = str(tmp_path)
        else:
            env["DATABASE_URL"] = f"postgresql://patchbot:pw-hunter2@127.0.0.1:{port}/x"
            held.close()  # nothing listens there any more: the connection is refused
        if case == "LOG_LEVEL=bogus" or case == "LOG_FORMAT=xml":
            options = options[2:]
        done = await run_patchbot(*options, env=env, timeout=60)
    expected = expected.replace("PORT", port).replace("KEYDIR", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr and "pw-hunter2" not in done.stderr
    assert done.stderr.count("error:") == 1  # one message


async def test_every_bad_variable_is_reported_in_one_message(tmp_path: Path) -> None:
    env = environment(
        tmp_path,
        "mysql://db",
        LOG_LEVEL="loud",
        APP_ID="my-app",
        PATCHBOT_MIN_PERMISSION="owner",
        PATCHBOT_MODEL_API_BASE="localhost:8001",
    )
    done = await cli("serve", env=env)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    names = ("LOG_LEVEL", "APP_ID", "DATABASE_URL", "PATCHBOT_MIN_PERMISSION")
    names += ("PATCHBOT_MODEL_API_BASE",)
    for name in names:
        assert f"\n{name}" in done.stderr, name
    assert done.stderr.count("How to fix") == len(names)


async def test_json_log_lines_at_the_default_level_name_the_run(
    store: RunStore, database_url: str, tmp_path: Path, private_key: str
) -> None:
    env = environment(
        tmp_path, database_url, APP_ID="12", PRIVATE_KEY=private_key, LOG_FORMAT="json"
    )
    run, _ = await store.create_run(
        NewRun(repository="octo/hello", issue=7, requester="alice", trigger="cli")
    )
    worker_options = ("worker", "--name", "logged", "--pipeline", CLAIM_ONLY)
    with patchbot(*worker_options, env=env, log_level=None) as worker:  # LOG_LEVEL unset
        await eventually(lambda: run_in(store, run.id, state=RunState.SUCCEEDED), "the run")
    assert worker.stdout is not None
    output = worker.stdout.read().splitlines()
    lines = [json.loads(line) for line in output if line.startswith("{")]
    claimed = next(line for line in lines if "claimed run" in line["message"])
    assert claimed["level"] == "INFO" and claimed["logger"] == "bot.runs.worker"
    assert (claimed["run_id"], claimed["repo"], claimed["issue"]) == (run.id, "octo/hello", 7)
    assert {"time", "level", "logger", "message"} <= set(lines[0])


async def test_serve_without_workers_is_ready_when_store_and_github_are(
    tmp_path: Path, free_port: int
) -> None:
    async with GitHubSimulator(tmp_path / "github") as github:
        env = app_environment(tmp_path, github)
        async with serving("--port", str(free_port), "--workers", "0", env=env):
            status, report = await _get(f"http://127.0.0.1:{free_port}/readyz")
    assert status == 200, report
    assert sorted(report["checks"]) == ["github", "store"]


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
async def test_serve_with_workers_is_ready_when_docker_images_and_model_are(
    tmp_path: Path, free_port: int, built_image: tuple[Path, str]
) -> None:
    images, name = built_image  # the image the server's policy allows
    policy = tmp_path / "policy.yml"
    policy.write_text(f"sandbox:\n  image: {name}\n  images: [{name}]\n")
    async with GitHubSimulator(tmp_path / "github") as github:
        env = app_environment(
            tmp_path,
            github,
            PATCHBOT_MODEL="openai/scripted",
            PATCHBOT_MODEL_API_BASE="http://127.0.0.1:9/v1",
            PATCHBOT_POLICY=str(policy),
            PATCHBOT_IMAGES_DIR=str(images),
        )
        url = f"http://127.0.0.1:{free_port}/readyz"
        async with serving("--port", str(free_port), "--workers", "1", env=env):

            async def ready() -> dict[str, Any] | None:
                status, report = await _get(url)
                return report if status == 200 else None

            # The model check imports litellm once, in a thread: ready within seconds.
            report = await eventually(ready, "/readyz to answer 200", timeout=60)
            answered = [r for r in github.requests if r.path.endswith("/app")]
            await _get(url)  # cached: GitHub is not asked again
            assert len([r for r in github.requests if r.path.endswith("/app")]) == len(answered)
    assert sorted(report["checks"]) == ["docker", "github", "images", "model", "store"]
    assert all(check["status"] == "ok" for check in report["checks"].values())


async def _get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as answer:
        return answer.status, await answer.json()


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
        env = app_environment(tmp_path, github)
        async with serving("--port", str(port), "--workers", "1", env=env):
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
