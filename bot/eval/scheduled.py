"""Continuous evaluation in the server (issue 16 item 5): a scheduled run of trigger `eval`
evaluates the repository on its mined tasks with the live model and policy, keeps the result,
compares it with the previous one, and raises a drop where operators look: a WARNING log line,
the store's `latest_evals` (for a metric) and a comment on the policy's `eval.issue`.

The schedule is the run queue's (see `bot.runs.evals`): `patchbot eval schedule` queues the
first run, each run queues its next when it ends, and workers claim them like any run, so an
evaluation is durable, survives restarts and runs once however many workers there are.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from gidgethub.abc import GitHubAPI

from bot.errors import ConfigError
from bot.eval.compare import TOTALS
from bot.eval.drift import ALERT_MARKER, alert_comment, drift
from bot.eval.run import RunOptions, evaluate, live_model
from bot.eval.tasks import Task, append_jsonl, read_tasks
from bot.github.app import github_app
from bot.github.git import clone
from bot.policy.load import effective_policy
from bot.policy.model import EVAL_PERIODS, EvalPolicy, Policy
from bot.runs.evals import EVAL_ISSUE, EvalRecord
from bot.runs.models import NewRun, Run, RunOutcome, RunState
from bot.runs.pipeline import RunContext, work_dir
from bot.runs.store import RunStore
from bot.sandbox.deferred import temporary_folder
from bot.trace import Redactor

log = logging.getLogger(__name__)


async def schedule_eval(
    store: RunStore, repository: str, installation_id: int, policy: Policy, *, due: float
) -> Run:
    """Queue the repository's scheduled evaluation, due at `due` (Unix time), repeating at the
    server policy's `eval.schedule`. Raises ConfigError when that is `off`, ActiveRunExists
    when one is queued or running already."""
    schedule = policy.eval.schedule
    if schedule == "off":
        raise ConfigError(
            "eval.schedule is off in the server policy: set it to daily, weekly or monthly "
            "(in PATCHBOT_POLICY's file) to schedule evaluations"
        )
    new = NewRun(
        repository=repository,
        issue=EVAL_ISSUE,
        requester="patchbot",
        trigger="eval",
        installation_id=installation_id,
        not_before=due,
        repeat_seconds=EVAL_PERIODS[schedule],
    )
    run, _ = await store.create_run(new)
    return run


class EvalPipeline:
    """A scheduled evaluation: clone, read the repository's policy and mined tasks, evaluate
    within `eval.budget_usd` and `eval.max_tasks`, keep, compare, alert."""

    def __init__(self, policy_path: Path, server_policy: Policy) -> None:
        self.policy_path = policy_path
        self.server_policy = server_policy

    async def __call__(self, run: Run, context: RunContext) -> RunOutcome:
        if run.installation_id is None:
            raise ConfigError(f"run {run.id} has no GitHub installation to act as")
        settings = context.settings
        async with github_app(settings) as app:
            gh = await app.installation_api(run.installation_id)
            repository = await gh.getitem(f"/repos/{run.repository}")
            token = await app.installation_token(run.installation_id)
            context.trace.redact.add(token)
            scratch = work_dir(settings.data_dir)
            async with temporary_folder(f"patchbot-eval-{run.id}-", scratch) as tmp:
                checkout = tmp / "repo"  # the whole history: the tasks' bases are in it
                url, branch = str(repository["clone_url"]), str(repository["default_branch"])
                await clone(url, checkout, token, branch=branch)
                try:
                    policy = effective_policy(self.server_policy, checkout).policy.eval
                except ConfigError as error:
                    reason = str(error).splitlines()[0]
                    return RunOutcome(state=RunState.FAILED, summary=f"policy: {reason}")
                skipped = await _skipped(run, context.store, policy)
                if skipped is not None:
                    context.trace.event("eval skipped", reason=skipped)
                    return RunOutcome(state=RunState.SUCCEEDED, summary=skipped)
                summary = await self._evaluate(run, context, checkout, policy)
            record = _record(run, summary)
            return await _kept_and_compared(run, context, gh, policy, record)

    async def _evaluate(
        self, run: Run, context: RunContext, checkout: Path, policy: EvalPolicy
    ) -> dict[str, Any]:
        settings = context.settings
        tasks = mined_tasks(checkout, policy)
        out = settings.data_dir / "eval" / f"run-{run.id}"  # a retried attempt resumes it
        chosen = out.parent / f"run-{run.id}.tasks.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        chosen.unlink(missing_ok=True)
        for task in tasks:
            append_jsonl(chosen, task.model_dump(mode="json"))
        model, configured = live_model(settings)
        options = RunOptions(out=out, model=model, repo=checkout, budget_usd=policy.budget_usd)
        context.trace.event("eval", tasks=len(tasks), model=model, budget_usd=policy.budget_usd)
        from bot.solve.solver import docker_sandbox

        return await evaluate(
            options,
            chosen,
            policy_path=self.policy_path,
            configured=configured,
            redactor=Redactor(settings.secrets()),
            opener=docker_sandbox,
            say=lambda line: context.trace.event("eval progress", line=line),
        )


def mined_tasks(checkout: Path, policy: EvalPolicy) -> list[Task]:
    """The first `eval.max_tasks` tasks of the repository's `eval.tasks` file. The path is the
    repository's to choose: a file outside its checkout (`..`, a symbolic link) is refused."""
    source = (checkout / policy.tasks).resolve()
    if not source.is_relative_to(checkout.resolve()) or not source.is_file():
        raise ConfigError(
            f"no mined tasks at {policy.tasks} in the repository's default branch: commit the "
            "output of `patchbot eval mine` there (policy eval.tasks)"
        )
    return read_tasks(source)[: policy.max_tasks]


async def _skipped(run: Run, store: RunStore, policy: EvalPolicy) -> str | None:
    """Why this run evaluates nothing: the repository turned its evaluations off, or asked for
    them rarer than the server schedules them and the last one is recent."""
    if policy.schedule == "off":
        return "skipped: the repository's eval.schedule is off"
    period = EVAL_PERIODS[policy.schedule]
    if run.repeat_seconds is None or period <= run.repeat_seconds:
        return None
    last = [
        record for record in await store.eval_history(run.repository) if record.run_id != run.id
    ]
    if last and time.time() - last[0].finished_at < 0.9 * period:
        return f"skipped: the repository's eval.schedule is {policy.schedule}"
    return None


def _record(run: Run, summary: dict[str, Any]) -> EvalRecord:
    fields = {key: summary[key] for key in (*TOTALS, "resolve_rate", "cost_usd")}
    return EvalRecord.model_validate(
        {
            **fields,
            "run_id": run.id,
            "repository": run.repository,
            "finished_at": time.time(),
            "model": summary["run"]["model"],
            "results": json.dumps(summary),
        }
    )


async def _kept_and_compared(
    run: Run, context: RunContext, gh: GitHubAPI, policy: EvalPolicy, record: EvalRecord
) -> RunOutcome:
    store = context.store
    previous = next(
        (kept for kept in await store.eval_history(run.repository, 2) if kept.run_id != run.id),
        None,
    )
    reasons = drift(previous, record, policy)
    if reasons:
        record = record.model_copy(update={"alert": "; ".join(reasons)})
    await store.keep_eval(record)
    figures = (
        f"{record.resolved} of {record.runs} run(s) resolved, {record.accepted} accepted "
        f"({record.accepted_unresolved} not resolved)"
    )
    context.trace.event("eval result", figures=figures, alert=record.alert)
    if previous is not None and reasons:
        log.warning(
            "evaluation of %s dropped (run %d after run %d): %s",
            run.repository, run.id, previous.run_id, record.alert,
        )  # fmt: skip
        if policy.issue is not None:
            comment = alert_comment(previous, record, reasons)
            await _comment_once(gh, run, policy.issue, context.settings.bot_login, comment)
    summary = f"evaluation: {figures}" + (f"; ALERT: {record.alert}" if record.alert else "")
    return RunOutcome(state=RunState.SUCCEEDED, summary=summary, cost_usd=record.cost_usd)


async def _comment_once(gh: GitHubAPI, run: Run, issue: int, login: str, body: str) -> None:
    """Post the alert on `issue`, or edit the one an earlier attempt of the run posted (never
    a comment someone else wrote with the marker in it)."""
    url = f"/repos/{run.repository}/issues/{issue}/comments"
    marker = ALERT_MARKER.format(run_id=run.id)
    async for comment in gh.getiter(url):
        ours = (comment.get("user") or {}).get("login") == login
        if ours and (comment.get("body") or "").startswith(marker):
            await gh.patch(f"/repos/{run.repository}/issues/comments/{comment['id']}",
                           data={"body": body})  # fmt: skip
            return
    await gh.post(url, data={"body": body})
