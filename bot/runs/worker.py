"""A worker: claims a run with a lease, runs its pipeline, renews the lease with a heartbeat.

If the worker dies, its lease runs out and another worker claims the run again (the run's
`attempts` counts the claims); what the dead one left (sandbox containers, checkouts,
scratch disks) goes at the next worker's sweep: when it takes such a run over, at its start
and every few minutes. A worker
that finds at a heartbeat that it lost the lease stops its pipeline without writing a
result; one that finds the run was asked to stop cancels its pipeline and marks the run
cancelled. Only the lease holder can finish a run, so a run completes exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from pathlib import Path

from bot.logs import log_context
from bot.runs.facts import read_facts
from bot.runs.models import LeaseLost, Run, RunOutcome, RunState
from bot.runs.pipeline import Pipeline, RunContext, trace_path
from bot.runs.revisions import follow_up
from bot.runs.store import STOPPED_BY_REQUEST, RunStore
from bot.sandbox.deferred import Deferred, deferring
from bot.settings import Settings
from bot.telemetry.observe import RunObservation
from bot.trace import Redactor, Trace, tracing

log = logging.getLogger(__name__)
_ENDED = (RunState.SUCCEEDED, RunState.ESCALATED, RunState.FAILED)
"""A run that ended in one of these (not cancelled, not paused) may have a follow-up."""
SWEEP_SECONDS = 300.0
"""How often a running worker removes what dead processes left (it also does at its start)."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Claims and works runs one at a time until stopped."""

    def __init__(
        self,
        store: RunStore,
        pipeline: Pipeline,
        settings: Settings,
        *,
        name: str | None = None,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.settings = settings
        self.name = name or worker_name()
        self.sweep_seconds = sweep_seconds
        self.current: Run | None = None

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        sweeping = asyncio.create_task(self._sweep_until(stop))
        try:
            while not stop.is_set():
                try:
                    run = await self.run_one()
                except Exception:  # a store hiccup must not end the worker; try again shortly
                    log.exception("worker %s could not claim or finish a run", self.name)
                    run = None
                if run is None:
                    await self._idle(stop)
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until a run is queued (the store wakes it), `stop` is set, or the poll interval is
        up (runs that come due, work the store cannot announce)."""
        waits = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.store.wait_for_work(self.settings.poll_seconds)),
        ]
        try:
            await asyncio.wait(
                waits, timeout=self.settings.poll_seconds * 2, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    async def sweep(self) -> None:
        """Remove the sandboxes, checkouts and scratch disks of processes that died (never a
        live one's: see `bot.sandbox.owners`). A failure is logged, never fatal."""
        from bot.sandbox.cleanup import sweep

        try:
            removed = await asyncio.to_thread(sweep, self.settings.data_dir / "work")
        except Exception:  # no Docker Engine now: the next sweep tries again
            log.warning("worker %s could not sweep", self.name, exc_info=True)
            return
        if removed.containers or removed.folders or removed.disks:
            log.info("worker %s removed what dead processes left: %s", self.name, removed)

    async def _sweep_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.sweep()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.sweep_seconds)

    async def run_one(self) -> Run | None:
        """Claim one run and work it to its end; None when nothing was waiting."""
        settings = self.settings
        run = await self.store.claim_run(
            self.name,
            settings.lease_seconds,
            settings.max_attempts,
            per_repository=settings.max_runs_per_repository,
            per_installation=settings.max_runs_per_installation,
        )
        if run is None:
            return None
        if run.attempts > 1:  # taken over: the worker before may have died with sandboxes up
            await self.sweep()
        self.current = run
        try:
            with log_context(run_id=run.id, repo=run.repository, issue=run.issue):
                final = await self._work(run)
        finally:
            self.current = None
        if final.pull_request is not None and final.state in _ENDED:
            try:  # review feedback that came in while this revision ran
                queued = await follow_up(self.store, final)
            except Exception:  # not fatal: the next feedback on the pull request asks again
                log.exception("could not queue the revision after run %d", final.id)
            else:
                if queued is not None:
                    log.info("queued revision run %d after run %d", queued.id, final.id)
        return final

    async def _work(self, run: Run) -> Run:
        attributes = {
            "patchbot.run.id": run.id,
            "patchbot.run.attempt": run.attempts,
            "patchbot.repository": run.repository,
            "patchbot.issue": run.issue,
            "patchbot.trigger": run.trigger,
        }
        observation = RunObservation(self.settings.otlp_endpoint, attributes)
        state = "error"  # the worker failed; `running`: it lost the lease
        try:
            with log_context(trace_id=observation.trace_id):
                final = await self._traced(run, observation)
            state = final.state.value
            return final
        finally:
            observation.end(state)

    async def _traced(self, run: Run, observation: RunObservation) -> Run:
        redactor = Redactor(self.settings.secrets())
        path = trace_path(self.settings.data_dir, run.id)
        with Trace(path, redactor, observation) as trace:
            trace.event("claimed", worker=self.name, attempt=run.attempts)
            log.info("worker %s claimed run %d (attempt %d)", self.name, run.id, run.attempts)
            context = RunContext(trace, self.store, self.settings, self.name)
            # The run's sandboxes and checkouts are removed in the background (off the path to
            # its pull request) and waited for before its end is recorded; its GitHub calls
            # are traced too.
            cleanup = Deferred()
            with tracing(trace):
                task = asyncio.create_task(self.pipeline(run, context), context=deferring(cleanup))
            try:
                stopped = await self._watch(run, task)  # someone asked to stop the run
                await _stop(task)
                await cleanup.wait()
                if stopped:
                    final = await self.store.finish_run(  # what it spent is unknown
                        run.id, self.name, RunState.CANCELLED, STOPPED_BY_REQUEST, cost_usd=None
                    )
                    trace.event("cancelled", summary=STOPPED_BY_REQUEST)
                    await self._keep_facts(final, path)
                    return final
                outcome = _outcome(task, trace)
                if outcome.hold is not None:  # the pipeline paused for a human's approval
                    final = await self.store.hold_run(
                        run.id, self.name, outcome.hold, outcome.summary, outcome.cost_usd
                    )
                else:
                    final = await self.store.finish_run(
                        run.id, self.name, outcome.state, outcome.summary, outcome.cost_usd
                    )
                trace.event("finished", state=final.state.value, summary=final.summary)
                await self._keep_facts(final, path)
                return final
            except LeaseLost:  # another worker may hold the run now: leave it, write nothing
                await _stop(task)
                trace.event("lease lost", worker=self.name)
                return await self.store.get_run(run.id) or run
            finally:
                await _stop(task)
                await cleanup.wait()

    async def _keep_facts(self, run: Run, path: Path) -> None:
        """Keep what the KPIs need from the trace in the store, so they read rows, not trace
        files. The run's result is recorded already: a failure here loses nothing the trace
        does not keep (the KPIs read the trace of a run without facts), so it is logged."""
        try:
            facts = await asyncio.to_thread(read_facts, path)
            await self.store.record_facts({run.id: facts})
        except Exception:
            log.exception("could not keep the facts of run %d; the KPIs read its trace", run.id)

    async def _watch(self, run: Run, task: asyncio.Task[RunOutcome]) -> bool:
        """Heartbeat until the pipeline ends; True when someone asked to stop the run first.

        Raises LeaseLost when the worker lost the lease, or could not renew it for as long
        as the lease lasts."""
        renewed = time.monotonic()
        while True:
            done, _ = await asyncio.wait({task}, timeout=self.settings.heartbeat_seconds)
            if done:
                return False
            try:
                beat = await self.store.heartbeat(run.id, self.name, self.settings.lease_seconds)
            except LeaseLost:
                raise
            except Exception as error:  # the store is unreachable: keep trying while it lasts
                log.exception("heartbeat of run %d failed", run.id)
                if time.monotonic() - renewed >= self.settings.lease_seconds:
                    # another worker may hold it by now: stop, never run twice
                    raise LeaseLost(run.id, self.name) from error
                continue
            renewed = time.monotonic()
            if beat.cancel_requested:
                return True


async def _stop(task: asyncio.Task[RunOutcome]) -> None:
    """Cancel the pipeline if it still runs, and wait for its clean-up."""
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _outcome(task: asyncio.Task[RunOutcome], trace: Trace) -> RunOutcome:
    try:
        return task.result()
    except Exception as error:  # the pipeline's failure is the run's failure, not the worker's
        trace.event("error", error=f"{type(error).__name__}: {error}")
        # The attempt may have called the model before it failed: its cost is unknown, not 0.
        summary = f"{type(error).__name__}: {error}"
        return RunOutcome(state=RunState.FAILED, summary=summary, cost_usd=None)
