"""What `patchbot serve` and `patchbot worker` run: a scheduled evaluation (a run of trigger
`eval`) by the evaluation pipeline, every other run by GitHub's."""

from __future__ import annotations

from pathlib import Path

from bot.eval.scheduled import EvalPipeline
from bot.pipeline.run import GitHubPipeline
from bot.runs.models import Run, RunOutcome
from bot.runs.pipeline import RunContext


class ServerPipeline:
    """Routes each claimed run to the pipeline of its kind."""

    def __init__(self, policy_path: Path | None = None) -> None:
        self.github = GitHubPipeline(policy_path)
        self.evaluation = EvalPipeline(policy_path)

    async def __call__(self, run: Run, context: RunContext) -> RunOutcome:
        if run.trigger == "eval":
            return await self.evaluation(run, context)
        return await self.github(run, context)
