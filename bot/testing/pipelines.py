"""Pipelines for tests and benchmarks of the worker (claim, lease, heartbeat, cancel)."""

from __future__ import annotations

import asyncio

from bot.runs.models import Run, RunOutcome, RunState
from bot.runs.pipeline import RunContext


class ClaimOnlyPipeline:
    """Records the claim and completes: for tests of intake and workers, with no GitHub work."""

    async def __call__(self, run: Run, context: RunContext) -> RunOutcome:
        context.trace.event(
            "pipeline",
            step="claimed",
            repository=run.repository,
            issue=run.issue,
            instructions=run.instructions,
        )
        return RunOutcome(state=RunState.SUCCEEDED, summary="run claimed and traced")


class WaitForFilePipeline:
    """Blocks until the file `DATA_DIR/release/RUN_ID` exists, then succeeds.

    Lets a test hold a run in the middle of its pipeline (to kill or stop its worker)."""

    poll_seconds = 0.05

    async def __call__(self, run: Run, context: RunContext) -> RunOutcome:
        context.trace.event("pipeline", step="waiting", attempt_of=context.worker)
        release = context.settings.data_dir / "release" / str(run.id)
        while not release.exists():  # noqa: ASYNC110 - another process makes the file
            await asyncio.sleep(self.poll_seconds)
        context.trace.event("pipeline", step="released")
        return RunOutcome(state=RunState.SUCCEEDED, summary="released")


class FailingPipeline:
    """Raises, as a pipeline with a bug would."""

    async def __call__(self, run: Run, context: RunContext) -> RunOutcome:
        raise RuntimeError("the pipeline broke")
