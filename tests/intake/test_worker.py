"""The worker in-process: pipeline seam, trace, failures and cancellation at the heartbeat."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.runs.models import NewRun, RunState
from bot.runs.pipeline import RunContext, trace_path
from bot.runs.store import RunStore
from bot.runs.worker import Worker
from bot.settings import Settings
from bot.testing.pipelines import ClaimOnlyPipeline, FailingPipeline, WaitForFilePipeline
from bot.trace import read_trace
from tests.intake.simulated import COMMENTS, ISSUE, REACTIONS, REPO_NAME


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
