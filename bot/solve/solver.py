"""The solve run: clone, baseline, agent, verification, retries. `patchbot solve` and the GitHub
pipeline both call `solve`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

from bot.agent.loop import Agent, Progress, ProgressEvent
from bot.agent.model import LitellmModel, Model, import_litellm
from bot.agent.prompts import (
    SYSTEM_PROMPT,
    rejection_message,
    repository_guidance,
    task_message,
)
from bot.agent.stops import StopReason
from bot.agent.tools import ToolBox, format_report
from bot.errors import SandboxError, SetupFailed
from bot.sandbox.config import SandboxConfig
from bot.sandbox.deferred import temporary_folder
from bot.sandbox.models import Outcome, TestReport
from bot.sandbox.protocol import Sandbox
from bot.sandbox.setup_gate import baseline_problem
from bot.setup.model import SetupReport
from bot.setup.progress import SETUP_PROGRESS
from bot.solve.ahead import OpenedAhead
from bot.solve.checkout import Checkouts
from bot.solve.outcome import Attempt, SolveOutcome, SolveResult
from bot.solve.proof import Proof, collapse
from bot.solve.request import SolveRequest
from bot.solve.verify import (
    Runs,
    SandboxOpener,
    Verification,
    feedback,
    judge,
    run_suite,
)
from bot.trace import Trace


@contextlib.asynccontextmanager
async def docker_sandbox(
    workspace: Path, config: SandboxConfig, *, edited: Awaitable[None] | None = None
) -> AsyncIterator[Sandbox]:
    """The default `SandboxOpener`: the Docker sandbox, imported only when a run starts."""
    from bot.sandbox.docker import open_sandbox

    async with open_sandbox(workspace, config, edited=edited) as sandbox:
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
                issue=request.issue_title,
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
    _trace_verdict(trace, 0, verification, patch="")
    return verification


def _trace_verdict(trace: Trace, attempt: int, verification: Verification, patch: str) -> None:
    """The verdict, each test's change, and the patch judged (shown by the dashboard)."""
    trace.event(
        "verification",
        attempt=attempt,
        accepted=verification.accepted,
        reason=verification.reason,
        changes=[change.model_dump() for change in verification.changes],
        patch=patch,
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
            stop_reason=SolveOutcome.SETUP_FAILED, detail="", patch="", base_commit=checkouts.base
        )
        self.agent_box: OpenedAhead | None = None
        """The agent's sandbox, where the baseline runs first."""
        self.proofs: list[Proof] = []
        """Each attempt's proof; the first is made (its sandboxes opening) as the baseline's
        tests start."""

    def say(self, step: int, text: str) -> None:
        if self.progress is not None:
            self.progress(ProgressEvent(step=step, text=text))

    async def execute(self) -> SolveResult:
        try:
            return await self._execute()
        finally:  # the sandboxes opened ahead, on every way out (no-ops once used and closed)
            if self.agent_box is not None:
                await self.agent_box.close()
            for proof in self.proofs:
                await proof.close_ahead()

    def _proof(self, number: int, baseline: TestReport | None = None) -> Proof:
        """Attempt `number`'s proof, made the first time it is asked for, with verification's
        sandboxes for it opening on the base (given the `baseline`, those it calls for)."""
        if number > len(self.proofs):
            request = self.request
            self.proofs.append(
                Proof(self.checkouts, request.sandbox, request.verify, self.open_sandbox)
            )
        proof = self.proofs[number - 1]
        proof.open_ahead(f"candidate-{number}", baseline)
        return proof

    async def _execute(self) -> SolveResult:
        result = self.result
        self.say(0, f"baseline: running the tests on {result.base_commit[:12]}")
        # Importing litellm takes seconds: do it while the baseline runs.
        warming = asyncio.create_task(
            asyncio.to_thread(import_litellm if isinstance(self.model, LitellmModel) else str)
        )
        listening = SETUP_PROGRESS.set(lambda text: self.say(0, text))
        try:
            baseline = await self._baseline()
            await warming
        except SetupFailed as error:
            if error.report is not None:
                result.setup = SetupReport.model_validate(error.report)
                self.trace.event("setup", **error.report)
            result.detail = "the repository could not be set up: " + str(error).splitlines()[0]
            return result
        finally:
            SETUP_PROGRESS.reset(listening)
            warming.cancel()  # a no-op once it is done
        return await self._with_agent(baseline)

    async def _baseline(self) -> TestReport:
        """The base's tests on a fresh checkout in a fresh sandbox: the agent's own, before the
        agent's first command (one sandbox start fewer). A baseline on another commit (see
        `SolveRequest.baseline_commit`) has a sandbox of its own, and the agent's starts while
        its tests run. The first attempt's verification sandboxes start as the baseline's
        tests do (set-up is cached by then, so none of them repeats its work)."""
        config, reruns = self.request.sandbox, self.request.verify.reruns
        commit = self.request.baseline_commit
        if commit in (None, self.checkouts.base):
            self.agent_box = OpenedAhead(self.open_sandbox, self.checkouts.work, config)
            sandbox = await self.agent_box.ready()
            self._proof(1)
            runs = await sandbox.run_tests(reruns=reruns, more=True)  # the agent runs next
        else:
            tree = await asyncio.to_thread(
                self.checkouts.fresh, self.checkouts.root / "baseline", commit
            )
            async with self.open_sandbox(tree, config) as sandbox:
                self.agent_box = OpenedAhead(self.open_sandbox, self.checkouts.work, config)
                self._proof(1)
                runs = await sandbox.run_tests(reruns=reruns)
        baseline, self.result.flaky = collapse(runs)
        self.result.setup = sandbox.setup_report
        self.result.sandbox = sandbox.config
        return baseline

    async def _with_agent(self, baseline: TestReport) -> SolveResult:
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
        assert self.agent_box is not None  # the baseline ran in it, or opened it
        try:
            async with self.agent_box as sandbox:
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
            result.stop_reason = SolveOutcome.SANDBOX_ERROR
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
            number = len(result.attempts) + 1
            # Verification's sandboxes start on the base before the agent works: the first
            # attempt's with the baseline's tests, the next one's as the agent resumes.
            proof = self._proof(number, baseline)
            try:
                outcome = await agent.run()
                if outcome.reason is not StopReason.FINISHED:
                    result.stop_reason = SolveOutcome.of_agent(outcome.reason)
                    result.detail = outcome.detail
                    result.patch = await asyncio.to_thread(self.checkouts.diff)
                    return
                attempt = await self._verify(proof, number, outcome.summary, baseline)
            finally:
                await proof.close_ahead()
            attempt_text = f"attempt {attempt.number} of {max_attempts}"
            result.attempts.append(attempt)
            result.patch, result.summary = attempt.patch, attempt.summary
            result.verification = attempt.verification
            if attempt.verification is not None and attempt.verification.accepted:
                result.stop_reason = SolveOutcome.VERIFIED
                result.detail = f"{attempt_text} {attempt.reason}"
                return
            if attempt.number >= max_attempts:
                result.stop_reason = SolveOutcome.REJECTED
                result.detail = f"{attempt_text} {attempt.reason}; no attempts left"
                return
            agent.resume(rejection_message(self._feedback(attempt), attempt.number, max_attempts))

    async def _verify(
        self, proof: Proof, number: int, summary: str, baseline: TestReport
    ) -> Attempt:
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
        try:
            known = {**self.known_flaky, **self.result.flaky}
            verification, _ = await proof.verify(f"candidate-{number}", patch, baseline, known)
            self.result.flaky.update(verification.flaky)
        except SetupFailed as error:
            reason = f"rejected: the patched repository could not be set up: {error}"
            return Attempt(
                number=number, summary=summary, patch=patch, verification=None, reason=reason
            )
        _trace_verdict(self.trace, number, verification, patch)
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
