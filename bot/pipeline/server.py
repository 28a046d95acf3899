"""What `patchbot serve` and `patchbot worker` run: a scheduled evaluation (a run of trigger
`eval`) by the evaluation pipeline, every other run by GitHub's."""

from __future__ import annotations

from bot.eval.scheduled import EvalPipeline
from bot.pipeline.run import GitHubPipeline
from bot.policy.load import default_policy_path, load_policy_file
from bot.runs.models import Run, RunOutcome
from bot.runs.pipeline import RunContext


class ServerPipeline:
    """Routes each claimed run to the pipeline of its kind."""

    def __init__(self) -> None:
        path = default_policy_path()
        policy = load_policy_file(path)  # once: a broken server policy stops start-up
        self.github = GitHubPipeline(policy)
        self.evaluation = EvalPipeline(path, policy)

    async def __call__(self, run: Run, context: RunContext) -> RunOutcome:
        if run.trigger == "eval":
            return await self.evaluation(run, context)
        return await self.github(run, context)
