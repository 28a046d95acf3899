"""The solve run: clone, baseline, agent, verification, retries. `patchbot solve` and the GitHub
pipeline both call `solve`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import BaseModel, Field

from bot.agent.loop import Agent, AgentLimits, AgentStats, Progress, ProgressEvent
from bot.agent.model import LitellmModel, Model, ModelConfig, import_litellm
from bot.agent.prompts import (
    SYSTEM_PROMPT,
    rejection_message,
    repository_guidance,
    task_message,
)
from bot.agent.stops import StopReason
from bot.agent.tools import ToolBox, ToolConfig, format_report
from bot.errors import SandboxError, SetupFailed
from bot.sandbox.config import SandboxConfig
from bot.sandbox.deferred import temporary_folder
from bot.sandbox.models import Outcome, TestReport
from bot.sandbox.protocol import Sandbox
from bot.setup.gate import baseline_problem
from bot.setup.model import SetupReport
from bot.setup.progress import SETUP_PROGRESS
from bot.solve.ahead import OpenedAhead
from bot.solve.checkout import Checkouts
from bot.solve.proof import Proof, collapse
from bot.solve.verify import (
    Runs,
    SandboxOpener,
    Verification,
    VerifyConfig,
    feedback,
    judge,
    run_suite,
)
from bot.trace import Trace


class SolveRequest(BaseModel):
    """Everything one solve run needs to know."""

    repo: Path
    """A local git repository; its HEAD commit is the base. It is never modified."""
    issue_title: str
    issue_body: str = ""
    instructions: str = ""
    """Extra words from a maintainer (`/patchbot fix <instructions>`); untrusted like the issue."""
    baseline_commit: str | None = None
    """Run the baseline on this commit (an ancestor of HEAD) instead of HEAD: for a merge with
    unresolved conflicts, the pull request's head, whose tests say what must keep passing."""
    revision: str = ""
    """For a revision of Patchbot's pull request: its diff so far and the numbered feedback to
    address (reviews, line comments, failing checks); untrusted like the issue."""
    model: ModelConfig
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    limits: AgentLimits = Field(default_factory=AgentLimits)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    tools: ToolConfig = Field(default_factory=ToolConfig)
    work_dir: Path | None = None
    """Folder for the run's checkouts (default: the system's temporary folder)."""
    known_flaky: dict[str, list[str]] = Field(default_factory=dict)
    """Tests earlier runs saw flaky in this repository (id -> outcomes of their reruns): never
    counted as fixed, broken or proven."""


class Attempt(BaseModel):
    """One candidate the agent submitted, and what verification made of it."""

    number: int
    summary: str
    patch: str
    verification: Verification | None
    """None when the patch was empty (nothing to verify)."""
    reason: str


class SolveResult(BaseModel):
    """How a solve run ended. `verified` is the only sign that `patch` is proven."""

    stop_reason: StopReason
    detail: str
    """One line saying why the run stopped, for humans."""
    patch: str
    """The last candidate (or, after a limit stop, the unverified changes); may be empty."""
    summary: str = ""
    """The agent's own summary of its last candidate."""
    base_commit: str
    baseline: TestReport | None = None
    setup: SetupReport | None = None
    """How the repository was set up for the baseline: the plan's sources, each try."""
    sandbox: SandboxConfig | None = None
    """The sandbox the run got (its image chosen among those allowed); None before one opened."""
    verification: Verification | None = None
    """The verdict on the last candidate."""
    attempts: list[Attempt] = Field(default_factory=list)
    stats: AgentStats = Field(default_factory=AgentStats)
    duration: float = 0.0
    """Seconds for the whole run."""
    flaky: dict[str, list[Outcome]] = Field(default_factory=dict)
    """Tests this run saw flaky (their outcome changed between reruns), each outcome seen."""

    @property
    def verified(self) -> bool:
        return self.stop_reason is StopReason.VERIFIED


@contextlib.asynccontextmanager
async def docker_sandbox(workspace: Path, config: SandboxConfig) -> AsyncIterator[Sandbox]:
    """The default `SandboxOpener`: the Docker sandbox, imported only when a run starts."""
    from bot.sandbox.docker import open_sandbox

    async with open_sandbox(workspace, config) as sandbox:
        yield sandbox


async def solve(
    request: SolveRequest,
    *,
    trace: Trace,
    progress: Progress | None = None,
    open_sandbox: SandboxOpener = docker_sandbox,
    model: Model | None = None,
) -> SolveResult:
    """Turn the issue into a patch and verify it; see `SolveResult` for what came of it."""
    started = time.monotonic()
    result: SolveResult | None = None
    try:
        async with temporary_folder("patchbot-solve-", request.work_dir) as root:
            checkouts = await asyncio.to_thread(Checkouts, request.repo, root)
            trace.event(
                "solve_start",
                repo=str(checkouts.repo),
                base=checkouts.base,
                model=request.model.model,
                limits=request.limits.model_dump(),
                verify=request.verify.model_dump(),
            )
            run = _Run(request, checkouts, trace, progress, open_sandbox, model)
            result = await run.execute()
        result.duration = time.monotonic() - started
        return result
    finally:
        trace.event(
            "solve_stop",
            reason=result.stop_reason.value if result else "interrupted",
            detail=result.detail if result else "the run ended before it had a result",
            duration=round(time.monotonic() - started, 3),
        )


async def verify_head(
    repo: Path,
    before: str,
    request: SolveRequest,
    *,
    trace: Trace,
    open_sandbox: SandboxOpener = docker_sandbox,
) -> Verification:
    """The suite on commit `before` and on the repository's HEAD (a descendant, e.g. a merge
    made without the agent), each in a fresh sandbox, compared as for a candidate patch."""
    async with temporary_folder("patchbot-verify-", request.work_dir) as root:
        checkouts = await asyncio.to_thread(Checkouts, repo, root)
        tree = await asyncio.to_thread(checkouts.fresh, root / "before", before)
        baseline = await run_suite(tree, request.sandbox, open_sandbox)
        candidate = await run_suite(checkouts.work, request.sandbox, open_sandbox)
    verification = judge(Runs(baseline=baseline, candidate=candidate), request.verify)
    _trace_verdict(trace, 0, verification)
    return verification


def _trace_verdict(trace: Trace, attempt: int, verification: Verification) -> None:
    trace.event(
        "verification",
        attempt=attempt,
        accepted=verification.accepted,
        reason=verification.reason,
        changes=[change.model_dump() for change in verification.changes],
    )


class _Run:
    def __init__(
        self,
        request: SolveRequest,
        checkouts: Checkouts,
        trace: Trace,
        progress: Progress | None,
        open_sandbox: SandboxOpener,
        model: Model | None,
    ) -> None:
        self.request = request
        self.checkouts = checkouts
        self.trace = trace
        self.progress = progress
        self.open_sandbox = open_sandbox
        self.model = model or LitellmModel(request.model)
        self.known_flaky = {
            test_id: [Outcome(o) for o in outcomes if o in set(Outcome)]
            for test_id, outcomes in request.known_flaky.items()
        }
        self.result = SolveResult(
            stop_reason=StopReason.SETUP_FAILED, detail="", patch="", base_commit=checkouts.base
        )

    def say(self, step: int, text: str) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent(step=step, text=text))

    async def execute(self) -> SolveResult:
        result = self.result
        self.say(0, f"baseline: running the tests on {result.base_commit[:12]}")
        # Importing litellm takes seconds: do it while the baseline runs.
        warming = asyncio.create_task(
            asyncio.to_thread(import_litellm if isinstance(self.model, LitellmModel) else str)
        )
        listening = SETUP_PROGRESS.set(lambda text: self.say(0, text))
        agent_box: OpenedAhead | None = None
        ran = False
        try:
            tree = await asyncio.to_thread(
                self.checkouts.fresh, self.checkouts.root / "baseline", self.request.baseline_commit
            )
            async with self.open_sandbox(tree, self.request.sandbox) as sandbox:
                # The agent's own sandbox (on its own checkout) starts while the baseline's
                # tests run: the set-up is cached by now, so the two share no work.
                agent_box = OpenedAhead(
                    self.open_sandbox, self.checkouts.work, self.request.sandbox
                )
                runs = await sandbox.run_tests(reruns=self.request.verify.reruns)
                baseline, result.flaky = collapse(runs)
                result.setup = sandbox.setup_report
                result.sandbox = sandbox.config
            await warming
            ran = True
        except SetupFailed as error:
            if error.report is not None:
                result.setup = SetupReport.model_validate(error.report)
                self.trace.event("setup", **error.report)
            result.detail = "the repository could not be set up: " + str(error).splitlines()[0]
            return result
        finally:
            SETUP_PROGRESS.reset(listening)
            warming.cancel()  # a no-op once it is done
            if agent_box is not None and not ran:
                await agent_box.close()
        assert agent_box is not None  # the baseline ran
        try:
            return await self._with_agent(agent_box, baseline)
        finally:
            await agent_box.close()  # a no-op once the agent has used it

    async def _with_agent(self, agent_box: OpenedAhead, baseline: TestReport) -> SolveResult:
        result = self.result
        if result.setup is not None:
            self.trace.event("setup", **result.setup.model_dump())
        result.baseline = baseline
        self.trace.event("baseline", summary=baseline.summary_line(), report=baseline.model_dump())
        self.say(0, f"baseline: {baseline.summary_line()}")
        problem = baseline_problem(baseline)
        if problem is not None:  # the gate: no model call for a suite that cannot judge
            result.detail = f"the baseline cannot judge a fix: {problem}"
            if result.setup is not None:
                result.setup.ok, result.setup.error = False, problem
            self.trace.event("baseline_gate", problem=problem)
            return result
        try:
            async with agent_box as sandbox:
                agent = Agent(
                    self.model,
                    ToolBox(sandbox, self.request.tools),
                    self.request.limits,
                    self.trace,
                    self.progress,
                )
                result.stats = agent.stats  # the same object: it stays current as the agent runs
                await self._attempts(agent, baseline)
        except SandboxError as error:  # the agent's commands may break their own sandbox
            self.trace.event("sandbox_error", error=str(error))
            result.stop_reason = StopReason.SANDBOX_ERROR
            result.detail = f"the sandbox failed during the run: {error}"
            result.patch = await asyncio.to_thread(self.checkouts.diff)
        return result

    async def _attempts(self, agent: Agent, baseline: TestReport) -> None:
        request, result = self.request, self.result
        tools = request.tools
        guidance, files = await asyncio.to_thread(repository_guidance, self.checkouts.work)
        if files:
            self.trace.event("guidance", files=files, chars=len(guidance))
        agent.start(
            SYSTEM_PROMPT,
            task_message(
                request.issue_title,
                request.issue_body,
                request.instructions,
                format_report(baseline, tools.failures_shown, tools.output_chars // 4),
                request.revision,
                guidance,
            ),
        )
        max_attempts = request.verify.max_attempts
        while True:
            outcome = await agent.run()
            if outcome.reason is not StopReason.FINISHED:
                result.stop_reason, result.detail = outcome.reason, outcome.detail
                result.patch = await asyncio.to_thread(self.checkouts.diff)
                return
            attempt = await self._verify(len(result.attempts) + 1, outcome.summary, baseline)
            attempt_text = f"attempt {attempt.number} of {max_attempts}"
            result.attempts.append(attempt)
            result.patch, result.summary = attempt.patch, attempt.summary
            result.verification = attempt.verification
            if attempt.verification is not None and attempt.verification.accepted:
                result.stop_reason = StopReason.VERIFIED
                result.detail = f"{attempt_text} {attempt.reason}"
                return
            if attempt.number >= max_attempts:
                result.stop_reason = StopReason.REJECTED
                result.detail = f"{attempt_text} {attempt.reason}; no attempts left"
                return
            agent.resume(rejection_message(self._feedback(attempt), attempt.number, max_attempts))

    async def _verify(self, number: int, summary: str, baseline: TestReport) -> Attempt:
        step = self.result.stats.steps
        patch = await asyncio.to_thread(self.checkouts.diff)
        if not patch.strip():
            reason = "rejected: the workspace has no changes"
            self.say(step, f"verify: {reason}")
            self.trace.event("verification", attempt=number, accepted=False, reason=reason)
            return Attempt(
                number=number, summary=summary, patch="", verification=None, reason=reason
            )
        self.say(step, f"verify: attempt {number}, running the tests on fresh checkouts")
        proof = Proof(self.checkouts, self.request.sandbox, self.request.verify, self.open_sandbox)
        try:
            known = {**self.known_flaky, **self.result.flaky}
            verification, _ = await proof.verify(f"candidate-{number}", patch, baseline, known)
            self.result.flaky.update(verification.flaky)
        except SetupFailed as error:
            reason = f"rejected: the patched repository could not be set up: {error}"
            return Attempt(
                number=number, summary=summary, patch=patch, verification=None, reason=reason
            )
        _trace_verdict(self.trace, number, verification)
        self.say(step, f"verify: {verification.reason}")
        return Attempt(
            number=number,
            summary=summary,
            patch=patch,
            verification=verification,
            reason=verification.reason,
        )

    @staticmethod
    def _feedback(attempt: Attempt) -> str:
        if attempt.verification is None:
            return attempt.reason
        return feedback(attempt.verification)
