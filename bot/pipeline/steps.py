"""What every run does on GitHub, a first run or a revision of its pull request: the status
comment and its ticked steps, fresh tokens, the day's spend, labels, the repository's policy,
and the solve run with its progress shown."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gidgethub
from gidgethub.abc import GitHubAPI

from bot.agent.limits import agent_limits
from bot.agent.loop import ProgressEvent
from bot.agent.model import configured_model
from bot.errors import ConfigError
from bot.github.client import GitHubApp
from bot.github.markers import NEEDS_HUMAN_LABEL
from bot.pipeline import texts
from bot.pipeline.status import StatusComment
from bot.policy.decisions import GateReport, Usage
from bot.policy.env_network import MAX_FILE, Existing
from bot.policy.gates import evaluate_final
from bot.policy.model import Policy
from bot.runs.models import Run, RunOutcome, RunState
from bot.runs.pipeline import RunContext
from bot.sandbox.config import sandbox_config
from bot.solve.outcome import SolveResult
from bot.solve.request import SolveRequest
from bot.solve.solver import solve
from bot.solve.verify import SandboxOpener, verify_config


def content_in(checkout: Path) -> Existing:
    """A file's text in `checkout` ('' when missing, or reached through a symbolic link or
    outside the checkout: the repository decides where its links point)."""
    root = checkout.resolve()

    def read(path: str) -> str:
        target = checkout / path
        try:
            if target.is_symlink() or not target.resolve().is_relative_to(root):
                return ""
            with target.open(encoding="utf-8", errors="replace") as file:
                return file.read(MAX_FILE)
        except OSError:
            return ""

    return read


class RunSteps:
    """The parts a run's pipeline shares; `thread` is where it talks (the issue, or the pull
    request a revision works on)."""

    subject = "issue"
    """What the status comment says the run works on."""

    def __init__(
        self,
        run: Run,
        context: RunContext,
        app: GitHubApp,
        gh: GitHubAPI,
        server_policy: Policy,
        open_sandbox: SandboxOpener,
    ) -> None:
        self.run = run
        self.open_sandbox = open_sandbox
        """What the run's sandboxes are opened with, given by whoever made the pipeline."""
        self.context = context
        self.app = app
        self.gh = gh
        self.server_policy = server_policy
        login = context.settings.bot_login
        self.status = StatusComment(gh, run.repository, self.thread, run.id, login)
        self.done: list[tuple[str, str]] = []

    @property
    def thread(self) -> int:
        return self.run.pull_request or self.run.issue

    def step(self, name: str, detail: str = "") -> None:
        self.done.append((name, detail))
        self.context.trace.event("pipeline", step=name, detail=detail)

    async def working_on(self, current: str, note: str = "") -> None:
        text = texts.status_text(self.run.id, self.done, current, note, self.subject)
        await self.status.show(text)

    def solve_request(
        self, checkout: Path, issue: dict[str, Any], policy: Policy, today: Usage
    ) -> SolveRequest:
        """The solve run of `issue` on the checkout, within the policy's sandbox, verification
        and limits (the cost limit lowered by what was spent `today`)."""
        settings = self.context.settings
        return SolveRequest(
            repo=checkout,
            issue_title=str(issue.get("title") or ""),
            issue_body=str(issue.get("body") or ""),
            instructions=self.run.instructions,
            model=configured_model(settings),
            sandbox=sandbox_config(policy, cache_scope=self.run.repository),
            work_dir=checkout.parent,
            limits=agent_limits(policy, today),
            verify=verify_config(policy),
        )

    def final_gates(
        self, policy: Policy, result: SolveResult, today: Usage, checkout: Path
    ) -> GateReport:
        """The gates on the verified patch, with what the solve run used on top of `today`'s
        spend and the changed files as they are in `checkout` (before the patch); traced."""
        usage = today.model_copy(
            update={
                "steps": result.stats.steps,
                "cost_usd": result.stats.cost_usd,
                "wall_time": result.duration,
                "attempts": len(result.attempts),
            }
        )
        existing = content_in(checkout)
        gates = evaluate_final(
            policy, result.patch, usage, result.sandbox, existing, result.verification
        )
        self.context.trace.event("policy_gates", **gates.trace_fields())
        return gates

    async def fresh_token(self) -> str:
        """An installation token valid for a while yet (a run can outlive the one it cloned
        with), added to what the trace redacts."""
        assert self.run.installation_id is not None
        token = await self.app.installation_token(self.run.installation_id)
        self.context.trace.redact.add(token)
        return token

    async def spent_today(self) -> Usage:
        """Model spend since midnight UTC of this run's repository and installation."""
        assert self.run.installation_id is not None
        repository, installation = await self.context.store.spent_since(
            time.time() // 86400 * 86400,
            self.run.repository,
            self.run.installation_id,
            excluding=self.run.id,
        )
        return Usage(
            repository_spent_today_usd=repository, installation_spent_today_usd=installation
        )

    async def solve(self, request: SolveRequest) -> SolveResult:
        """The solve run, its progress shown in the status comment."""
        await self.working_on("baseline", "running the tests before any change")

        def progress(event: ProgressEvent) -> None:
            current = "agent" if event.step else "baseline"
            note = event.text.removeprefix(f"{current}: ")
            if event.cost:
                note = f"{note[:160]} (cost so far: {event.cost})"
            text = texts.status_text(self.run.id, self.done, current, note[:200], self.subject)
            self.status.progress(text)

        store = self.context.store
        known = await store.known_flaky(self.run.repository)
        request.known_flaky = {test.test_id: test.outcomes for test in known}
        trace = self.context.trace
        opener = self.open_sandbox
        result = await solve(request, trace=trace, progress=progress, open_sandbox=opener)
        if result.flaky:
            await store.remember_flaky(self.run.repository, result.base_commit, result.flaky)
        await self.status.close()
        self.step("solved", result.detail)
        return result

    async def escalate_config(self, error: ConfigError) -> RunOutcome:
        """The repository's `.github/patchbot.yml` is broken: say where, push nothing."""
        await self.status.show(texts.config_error_text(self.run.id, str(error)), final=True)
        await self.label(NEEDS_HUMAN_LABEL)
        self.context.trace.event("escalated", reason="invalid repository config", detail=str(error))
        return RunOutcome(state=RunState.ESCALATED, summary=str(error))

    async def label(self, name: str) -> None:
        url = f"/repos/{self.run.repository}/issues/{self.thread}/labels"
        await self.gh.post(url, data={"labels": [name]})

    async def unlabel(self, name: str) -> None:
        url = f"/repos/{self.run.repository}/issues/{self.thread}/labels/{name}"
        try:
            await self.gh.delete(url)
        except gidgethub.BadRequest as error:
            if error.status_code != 404:
                raise
