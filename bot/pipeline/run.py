"""The run-to-pull-request pipeline: clone → repository config → solve → branch → PR → check.

Every GitHub write finds what an earlier attempt of the same run made (its status comment,
branch, pull request, check run) and updates it, so a retried or resumed run never makes a
second one. A run that cannot be verified escalates: the status comment says what was tried
and why it stopped, and the issue gets the `patchbot:needs-human` label.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import gidgethub

from bot.agent.model import preload_litellm
from bot.errors import ConfigError, PatchbotError
from bot.github.app import github_app
from bot.github.git import clone, run_git
from bot.github.markdown import linking
from bot.github.markers import NEEDS_HUMAN_LABEL
from bot.github.permissions import permission_of
from bot.pipeline import texts
from bot.pipeline.branch import branch_name, commit_message, commit_patch, push_branch
from bot.pipeline.pull_request import open_or_update_pull, report_check
from bot.pipeline.revision import Revision
from bot.pipeline.status import StatusComment
from bot.pipeline.steps import RunSteps
from bot.policy.decisions import GateReport, TriggerRequest
from bot.policy.diff import parse_diff
from bot.policy.gates import evaluate_start
from bot.policy.load import default_policy_path, effective_policy, load_policy_file
from bot.policy.model import Policy
from bot.runs.held import HeldPatch
from bot.runs.models import PullOpened, Run, RunOutcome, RunState
from bot.runs.pipeline import RunContext, work_dir
from bot.sandbox.deferred import temporary_folder
from bot.solve.outcome import SolveResult
from bot.solve.solver import docker_sandbox
from bot.solve.verify import SandboxOpener

log = logging.getLogger(__name__)


class GitHubPipeline:
    """Turns a claimed run into a verified pull request (a revision run: a new commit on its
    pull request, see `revision.py`) or an escalation."""

    def __init__(
        self,
        server_policy: Policy | None = None,
        *,
        open_sandbox: SandboxOpener = docker_sandbox,
    ) -> None:
        # Made once per process, at start: a broken server policy stops start-up, and the
        # litellm import (seconds) is done before any run needs it. The model is the one the
        # settings configure; the sandboxes are opened with `open_sandbox`.
        self.server_policy = server_policy or load_policy_file(default_policy_path())
        preload_litellm()
        self.open_sandbox = open_sandbox

    async def __call__(self, run: Run, context: RunContext) -> RunOutcome:
        if run.installation_id is None:
            raise ConfigError(f"run {run.id} has no GitHub installation to act as")
        async with github_app(context.settings) as app:
            # Which URLs in the untrusted text the run posts stay links: bot.github.markdown
            with linking(context.settings.link_hosts):
                gh = await app.installation_api(run.installation_id)
                kind = Revision if run.pull_request is not None else _Publish
                steps = kind(run, context, app, gh, self.server_policy, self.open_sandbox)
                status = steps.status
                try:
                    return await steps.execute()
                except asyncio.CancelledError:
                    await status.close()
                    await _stopped_notice(run, context, status)
                    raise
                except Exception as error:
                    await status.close()
                    reason = context.trace.redact(f"{type(error).__name__}: {error}")
                    with contextlib.suppress(Exception):
                        await status.show(texts.failure_text(run, reason), final=True)
                    raise
                finally:
                    await status.close()


async def _stopped_notice(run: Run, context: RunContext, status: StatusComment) -> None:
    """Say so when a maintainer stopped the run (not when a lease moved)."""

    async def notice() -> None:
        current = await context.store.get_run(run.id)
        if current is not None and current.cancel_requested:
            await status.show(texts.stopped_text(run), final=True)

    task = asyncio.ensure_future(notice())
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.shield(task), 10)


class _Publish(RunSteps):
    """A first run: the issue to a pull request."""

    async def execute(self) -> RunOutcome:
        run, settings = self.run, self.context.settings
        await self.working_on("cloning the repository")
        issue = await self.gh.getitem(f"/repos/{run.repository}/issues/{run.issue}")
        repository = await self.gh.getitem(f"/repos/{run.repository}")
        token = await self.fresh_token()
        work = work_dir(settings.data_dir)
        # removed after the sandboxes that mounted checkouts in it (see bot.sandbox.deferred)
        async with temporary_folder(f"patchbot-run-{run.id}-", work) as tmp:
            checkout = tmp / "repo"
            url = str(repository["clone_url"])
            await clone(url, checkout, token, branch=str(repository["default_branch"]))
            self.step("cloned", f"`{repository['default_branch']}`")
            kept = await self.own_patch()
            if kept is not None:
                return await self.publish(checkout, url, repository, *kept, 0.0)
            try:
                merged = effective_policy(self.server_policy, checkout)
            except ConfigError as error:
                return await self.escalate_config(error)
            notes = [str(note) for note in merged.notes]
            self.context.trace.event("policy", notes=notes, policy=merged.policy.model_dump())
            policy, today = merged.policy, await self.spent_today()
            start = evaluate_start(policy, await self.trigger(), today)
            self.context.trace.event("policy_gates", **start.trace_fields())
            if start.verdict == "deny":
                return await self.refuse(start, "")
            kept = await self.patch_of_the_failed_run()
            if kept is not None:
                return await self.publish(checkout, url, repository, *kept, 0.0)
            result = await self.solve(self.solve_request(checkout, issue, policy, today))
            if not result.verified:
                return await self.escalate(result)
            gates = self.final_gates(policy, result, today, checkout)
            if gates.verdict == "deny":
                return await self.refuse(gates, result.patch, result)
            held = self.prepare(issue, policy, gates, notes, result)
            if gates.verdict == "needs_approval":
                return await self.await_approval(gates, result, held)
            # Kept first: should publishing fail, the next attempt or a retry pushes this patch.
            await self.context.store.keep_hold(run.id, self.context.worker, held.model_dump_json())
            return await self.publish(checkout, url, repository, held, None, result.stats.cost_usd)

    async def own_patch(self) -> tuple[HeldPatch, str | None] | None:
        """The patch this run holds and who approved it: one a human approved, or one an
        earlier attempt verified and could not publish (its worker died, GitHub failed)."""
        hold = await self.context.store.get_hold(self.run.id)
        if hold is None or hold.decision == "rejected":
            return None
        if hold.decision == "approved":
            self.context.trace.event("approved", by=hold.decided_by, at=hold.decided_at)
        else:
            self.context.trace.event("resumed", kept_at=hold.held_at, kept_by=hold.held_by)
        return HeldPatch.model_validate_json(hold.content), hold.decided_by

    async def patch_of_the_failed_run(self) -> tuple[HeldPatch, str | None] | None:
        """For `/patchbot retry` after a run that verified a patch and could not publish it:
        that patch and who approved it, unless the retry asks for other instructions."""
        run, store = self.run, self.context.store
        if run.trigger != "retry":
            return None
        earlier = await store.previous_run(run.repository, run.issue, run.id)
        if earlier is None or earlier.state is not RunState.FAILED:
            return None
        hold = await store.get_hold(earlier.id)
        if hold is None or hold.decision == "rejected" or earlier.instructions != run.instructions:
            return None
        self.context.trace.event("resumed", run=earlier.id, kept_at=hold.held_at)
        return HeldPatch.model_validate_json(hold.content), hold.decided_by

    def prepare(
        self,
        issue: dict[str, Any],
        policy: Policy,
        gates: GateReport,
        notes: list[str],
        result: SolveResult,
    ) -> HeldPatch:
        """What to push and say, decided now: the same whether it goes out now or after an
        approval."""
        assert result.verification is not None
        run = self.run
        title = str(issue.get("title") or f"issue {run.issue}")
        verification = result.verification
        return HeldPatch(
            patch=result.patch,
            base_commit=result.base_commit,
            branch=branch_name(run.issue, title),
            title=f"Fix #{run.issue}: {title}",
            body=texts.pr_body(
                run.id, run.issue, result, self.context.settings.model, gates, notes
            ),
            check_title=texts.check_title(verification),
            check_summary=texts.test_table(verification),
            autonomy=gates.autonomy,
            commit_message=commit_message(run.issue, title, run.id),
            approval=policy.approval,
            requester=run.requester,
        )

    async def trigger(self) -> TriggerRequest:
        """Who asked and how, with their permission as it is now: the repository's policy
        (read only now, from the clone) may ask more than the server's did at intake."""
        run, settings = self.run, self.context.settings
        return TriggerRequest(
            sender=run.requester,
            permission=await permission_of(self.gh, run.repository, run.requester),
            label=settings.trigger_label if run.trigger == "label" else None,
            command={"comment": "fix", "retry": "retry"}.get(run.trigger),
        )

    async def escalate(self, result: SolveResult) -> RunOutcome:
        await self.status.show(texts.escalation_text(self.run.id, result), final=True)
        await self.label(NEEDS_HUMAN_LABEL)
        self.context.trace.event("escalated", reason=result.stop_reason.value, detail=result.detail)
        return RunOutcome(
            state=RunState.ESCALATED, summary=result.detail, cost_usd=result.stats.cost_usd
        )

    async def refuse(
        self, gates: GateReport, patch: str, result: SolveResult | None = None
    ) -> RunOutcome:
        """A gate denied the run: nothing is pushed, and the issue says why."""
        await self.status.show(texts.held_text(self.run.id, gates, patch, result), final=True)
        await self.label(NEEDS_HUMAN_LABEL)
        reasons = gates.reasons()
        self.context.trace.event("escalated", reason=f"policy {gates.verdict}", detail=reasons)
        cost = result.stats.cost_usd if result is not None else 0.0
        return RunOutcome(state=RunState.ESCALATED, summary=reasons, cost_usd=cost)

    async def await_approval(
        self, gates: GateReport, result: SolveResult, held: HeldPatch
    ) -> RunOutcome:
        """Pause: the sandbox is gone, the patch is kept in the store, and the issue says
        what needs approval and who may give it."""
        await self.status.show(texts.awaiting_text(self.run.id, gates, result, held), final=True)
        await self.label(NEEDS_HUMAN_LABEL)
        reasons = gates.reasons()
        self.context.trace.event("awaiting_approval", detail=reasons)
        return RunOutcome(
            state=RunState.AWAITING_APPROVAL,
            summary=f"waiting for approval: {reasons}",
            cost_usd=result.stats.cost_usd,
            hold=held.model_dump_json(),
        )

    async def publish(
        self,
        checkout: Path,
        url: str,
        repository: dict[str, Any],
        held: HeldPatch,
        approved_by: str | None,
        cost_usd: float | None,
    ) -> RunOutcome:
        """Push the patch on its base commit and open the pull request (or, with autonomy
        `comment`, post the patch); `approved_by` when a human let it through. A failure says
        the patch is kept for `/patchbot retry`, and the run fails with what it cost."""
        body = held.body + (f"\n\n{texts.approval_line(approved_by)}" if approved_by else "")
        try:
            if held.autonomy == "comment":
                return await self.comment_patch(held, body, cost_usd)
            pr_url = await self.open_pull(checkout, url, repository, held, body)
        except (PatchbotError, gidgethub.HTTPException) as error:
            reason = self.context.trace.redact(f"{type(error).__name__}: {error}")
            await self.status.show(texts.unpublished_text(self.run.id, reason), final=True)
            self.context.trace.event("unpublished", error=reason)
            return RunOutcome(
                state=RunState.FAILED,
                summary=f"could not publish the verified patch, which is kept: {reason}",
                cost_usd=cost_usd,
            )
        return RunOutcome(state=RunState.SUCCEEDED, summary=f"opened {pr_url}", cost_usd=cost_usd)

    async def comment_patch(self, held: HeldPatch, body: str, cost_usd: float | None) -> RunOutcome:
        """Autonomy `comment`: the verified patch in the status comment, nothing pushed."""
        text = texts.patch_comment_text(self.run.id, held.check_summary, held.patch, body)
        await self.status.show(text, final=True)
        await self.unlabel(NEEDS_HUMAN_LABEL)
        self.context.trace.event("patch_commented", autonomy=held.autonomy)
        summary = "posted the verified patch in a comment (autonomy: comment)"
        return RunOutcome(state=RunState.SUCCEEDED, summary=summary, cost_usd=cost_usd)

    async def open_pull(
        self, checkout: Path, url: str, repository: dict[str, Any], held: HeldPatch, body: str
    ) -> str:
        """Push the patch as one commit on its base and open (or update) the pull request
        with its check run; the pull request's URL."""
        run = self.run
        await self.working_on("pushing", f"branch `{held.branch}`")
        await run_git(["checkout", "--quiet", "--detach", held.base_commit], cwd=checkout)
        head = await commit_patch(checkout, held.branch, held.patch, held.commit_message)
        await push_branch(checkout, held.branch, url, await self.fresh_token())
        self.step("pushed", f"`{held.branch}` at {head[:12]}")
        pull = await open_or_update_pull(
            self.gh,
            run.repository,
            branch=held.branch,
            base=str(repository["default_branch"]),
            title=held.title,
            body=body,
            draft=held.autonomy == "draft_pr",
        )
        await report_check(
            self.gh,
            run.repository,
            head,
            title=held.check_title,
            summary=held.check_summary,
            success=True,
        )
        pr_url = str(pull["html_url"])
        files = [path for changed in parse_diff(held.patch) for path in changed.paths]
        opened = PullOpened(number=pull["number"], branch=held.branch, head_sha=head, files=files)
        await self.context.store.record_pull_request(run.id, pr_url, opened)
        await self.unlabel(NEEDS_HUMAN_LABEL)
        await self.status.show(texts.done_text(run.id, pr_url, held.check_summary), final=True)
        self.context.trace.event("pull_request", url=pr_url, number=pull["number"], head=head)
        return pr_url
