"""The worker in-process: pipeline seam, trace, failures and cancellation at the heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.runs.models import NewRun, RunState
from bot.runs.pipeline import RunContext, trace_path
from bot.runs.store import RunStore, opened_store
from bot.runs.worker import Worker
from bot.settings import Settings
from bot.testing.pipelines import ClaimOnlyPipeline, FailingPipeline, WaitForFilePipeline
from bot.trace import read_trace
from tests.simulated import COMMENTS, ISSUE, REACTIONS, REPO_NAME

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "examples"


def request(issue: int = 1) -> NewRun:
    return NewRun(repository="octo/hello", issue=issue, requester="alice", trigger="cli")


async def test_default_pipeline_traces_the_claim_and_completes(
    store: RunStore, settings: Settings
) -> None:
    run, _ = await store.create_run(request())
    worker = Worker(store, ClaimOnlyPipeline(), settings, name="w1")
    finished = await worker.run_one()
    assert finished is not None and finished.id == run.id
    assert finished.state is RunState.SUCCEEDED and finished.attempts == 1
    kinds = [event["kind"] for event in read_trace(trace_path(settings.data_dir, run.id))]
    assert kinds == ["claimed", "pipeline", "finished"]
    assert await worker.run_one() is None


async def test_pipeline_error_fails_the_run_and_is_traced(
    store: RunStore, settings: Settings
) -> None:
    run, _ = await store.create_run(request())
    finished = await Worker(store, FailingPipeline(), settings).run_one()
    assert finished is not None and finished.state is RunState.FAILED
    assert "the pipeline broke" in finished.summary
    events = list(read_trace(trace_path(settings.data_dir, run.id)))
    assert any(e["kind"] == "error" and "broke" in e["error"] for e in events)


async def test_secrets_never_reach_the_trace(store: RunStore, settings: Settings) -> None:
    secret = settings.require_webhook_secret()

    class Leaky:
        async def __call__(self, run: Any, context: RunContext) -> Any:
            context.trace.event("pipeline", said=f"the secret is {secret}")
            return await ClaimOnlyPipeline()(run, context)

    run, _ = await store.create_run(request())
    await Worker(store, Leaky(), settings).run_one()
    assert secret not in trace_path(settings.data_dir, run.id).read_text()


async def test_stop_cancels_a_running_run_at_its_next_heartbeat(
    intake: Any, settings: Settings
) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", REACTIONS, status=201)
    intake.gh.reply("POST", REACTIONS.replace("492700400", "2"), status=201)
    intake.gh.reply("POST", COMMENTS, status=201)
    await intake.github.comment_on(REPO_NAME, ISSUE, "/patchbot fix", by="alice")
    await intake.settle()
    worker = Worker(intake.store, WaitForFilePipeline(), settings, name="w1")
    working = asyncio.create_task(worker.run_one())
    for _ in range(200):
        if worker.current is not None:
            break
        await asyncio.sleep(0.01)
    await intake.github.comment_on(REPO_NAME, ISSUE, "/patchbot stop", by="alice")
    await intake.settle()
    stopped = await asyncio.wait_for(working, timeout=settings.lease_seconds * 3)
    assert stopped is not None and stopped.state is RunState.CANCELLED
    kinds = [e["kind"] for e in read_trace(trace_path(settings.data_dir, stopped.id))]
    assert kinds == ["claimed", "pipeline", "cancelled"]  # never released, never finished
    [reply] = intake.gh.calls_to("POST", COMMENTS)
    assert f"stopping run #{stopped.id}" in reply.body["body"]


class StoreThatLosesHeartbeats:
    """The real store, except that every heartbeat fails as if the database were unreachable."""

    def __init__(self, store: RunStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def heartbeat(self, run_id: int, worker: str, lease_seconds: float) -> Any:
        raise ConnectionRefusedError("database unreachable")


async def test_worker_stops_its_pipeline_once_its_lease_may_have_passed(
    store: RunStore, settings: Settings
) -> None:
    run, _ = await store.create_run(request())
    flaky: Any = StoreThatLosesHeartbeats(store)
    worker = Worker(flaky, WaitForFilePipeline(), settings, name="cut-off")
    stopped = await asyncio.wait_for(worker.run_one(), timeout=settings.lease_seconds * 4)
    assert stopped is not None and stopped.state is RunState.RUNNING  # left for another worker
    kinds = [e["kind"] for e in read_trace(trace_path(settings.data_dir, run.id))]
    assert kinds[-1] == "lease lost" and "finished" not in kinds


SANDBOX_HOLDER = """
import asyncio, sys
from pathlib import Path
from bot.runs.pipeline import work_dir
from bot.sandbox.config import SandboxConfig
from bot.sandbox.docker import open_sandbox
from bot.sandbox.workspace import copy_tree

async def main():
    checkout = copy_tree(Path(sys.argv[2]), work_dir(Path(sys.argv[1])) / "patchbot-run-1-x")
    async with open_sandbox(checkout, SandboxConfig()) as sandbox:
        print(sandbox.container.id, flush=True)
        await asyncio.to_thread(sys.stdin.readline)

asyncio.run(main())
"""
"""A process that opens a sandbox on a checkout in its work folder, as a worker's run does,
prints the container's id and holds it until its stdin ends."""


@contextlib.asynccontextmanager
async def sandbox_holder(data_dir: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """A running SANDBOX_HOLDER and its container; on the way out it closes its sandbox (if
    it still runs)."""
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SANDBOX_HOLDER,
        str(data_dir),
        str(EXAMPLES / "calc"),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        container = await asyncio.wait_for(holder.stdout.readline(), 120)
        assert container, "the sandbox holder did not open its sandbox"
        yield holder, container.decode().strip()
    finally:
        if holder.returncode is None:
            holder.stdin.close()
            await asyncio.wait_for(holder.wait(), 60)


def container_state(container: str) -> str | None:
    import docker
    import docker.errors

    try:
        return str(docker.from_env().containers.get(container).status)
    except docker.errors.NotFound:
        return None


def mounted_under(folder: Path) -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        return [line for line in mountinfo if str(folder) in line]


async def kill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await asyncio.wait_for(process.wait(), 10)


async def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[RunStore]:
    """One kind of store is enough for the sweep, which never uses it."""
    async with opened_store(f"sqlite:///{tmp_path / 'patchbot.db'}") as opened:
        yield opened


@pytest.fixture
def sweep_settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"PATCHBOT_DATA_DIR": str(tmp_path / "data")})


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
async def test_worker_start_removes_what_a_killed_process_left_and_nothing_of_a_live_one(
    sqlite_store: RunStore, sweep_settings: Settings
) -> None:
    work = sweep_settings.data_dir / "work"
    async with sandbox_holder(sweep_settings.data_dir) as (alive, alive_container):
        async with sandbox_holder(sweep_settings.data_dir) as (doomed, doomed_container):
            await kill(doomed)
        doomed_folder = work / f"{socket.gethostname()}:{doomed.pid}"
        alive_folder = work / f"{socket.gethostname()}:{alive.pid}"
        assert container_state(doomed_container) is not None  # left behind (its server may stop)
        assert mounted_under(doomed_folder) and (doomed_folder / "patchbot-run-1-x").is_dir()

        stop = asyncio.Event()
        worker = Worker(sqlite_store, ClaimOnlyPipeline(), sweep_settings, name="heir")
        working = asyncio.create_task(worker.run_forever(stop))
        try:
            await until(lambda: not doomed_folder.exists(), "the sweep at the worker's start")
        finally:
            stop.set()
            await asyncio.wait_for(working, 30)
        assert container_state(doomed_container) is None
        assert mounted_under(doomed_folder) == []
        assert container_state(alive_container) == "running"
        assert mounted_under(alive_folder) and (alive_folder / "patchbot-run-1-x").is_dir()
    assert container_state(alive_container) is None  # it closed its own sandbox
    assert mounted_under(alive_folder) == []


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
async def test_running_worker_sweeps_again_now_and_then(
    sqlite_store: RunStore, sweep_settings: Settings
) -> None:
    stop = asyncio.Event()
    worker = Worker(sqlite_store, ClaimOnlyPipeline(), sweep_settings, sweep_seconds=0.5)
    working = asyncio.create_task(worker.run_forever(stop))
    try:
        async with sandbox_holder(sweep_settings.data_dir) as (doomed, container):
            await kill(doomed)
        folder = sweep_settings.data_dir / "work" / f"{socket.gethostname()}:{doomed.pid}"
        await until(lambda: not folder.exists(), "a sweep after the worker's start")
        assert container_state(container) is None and mounted_under(folder) == []
    finally:
        stop.set()
        await asyncio.wait_for(working, 30)


async def test_a_queued_run_wakes_an_idle_worker_long_before_its_poll(
    store: RunStore, settings: Settings
) -> None:
    slow_poll = settings.model_copy(update={"poll_seconds": 30.0})
    worker = Worker(store, ClaimOnlyPipeline(), slow_poll, sweep_seconds=3600)
    stop = asyncio.Event()
    working = asyncio.create_task(worker.run_forever(stop))
    try:
        await asyncio.sleep(0.5)  # idle: it found nothing and waits
        run, _ = await store.create_run(
            NewRun(repository=REPO_NAME, issue=ISSUE, requester="alice", trigger="cli")
        )
        deadline = time.monotonic() + 5  # a sixth of the poll
        while time.monotonic() < deadline:
            current = await store.get_run(run.id)
            if current is not None and current.state is RunState.SUCCEEDED:
                break
            await asyncio.sleep(0.05)
        assert current is not None and current.state is RunState.SUCCEEDED
        assert current.started_at is not None and current.started_at - current.created_at < 5
    finally:
        stop.set()
        await asyncio.wait_for(working, 30)
