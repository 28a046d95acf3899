"""A revision run: review feedback, `/patchbot revise` or `update`, or another app's failed
check on Patchbot's pull request, answered with one new verified commit on the same branch.

It starts from the branch as it is on GitHub (a human's commits included), gives the agent the
issue, the pull request's diff and the numbered feedback, verifies like a first run, and pushes
as a fast-forward: never a force-push. It then answers each review thread, updates the check
run and the test table of the pull request's body, and records its iteration. Anything it
cannot do ends in a clear comment on the pull request, with nothing pushed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.github.git import apply_patch, clone, run_git
from bot.github.markers import NEEDS_HUMAN_LABEL
from bot.github.permissions import permission_of
from bot.pipeline import revision_texts as say
from bot.pipeline import texts
from bot.pipeline.pull_request import report_check
from bot.pipeline.revision_branch import (
    BranchMoved,
    Merge,
    commit_revision,
    fetch_head,
    leftover_markers,
    merge_base,
    push_fast_forward,
)
from bot.pipeline.steps import RunSteps
from bot.policy.decisions import Usage
from bot.policy.gates import budget_gate
from bot.policy.load import effective_policy
from bot.policy.model import Policy
from bot.runs.models import Feedback, RunOutcome, RunState
from bot.runs.pipeline import work_dir
from bot.sandbox.deferred import temporary_folder
from bot.settings import permission_at_least
from bot.solve.solver import verify_head
from bot.solve.verify import Verification

MAX_DIFF_CHARS = 20_000
"""Characters of the pull request's diff shown to the agent."""


class Revision(RunSteps):
    """One revision run of Patchbot's pull request `run.pull_request`."""

    subject = "pull request"
    feedback: list[Feedback] = []
    """What the agent was given to address."""
    repairs_exhausted = False
    """The pull request had as many repair runs as the policy allows."""

    async def execute(self) -> RunOutcome:
        run = self.run
        assert run.pull_request is not None
        repo_url = f"/repos/{run.repository}"
        await self.working_on("reading the pull request and its feedback")
        pull = await self.gh.getitem(f"{repo_url}/pulls/{run.pull_request}")
        if pull["state"] != "open":
            return await self.end("the pull request is closed; nothing was pushed", closed=True)
        issue = await self.gh.getitem(f"{repo_url}/issues/{run.issue}")
        taken = await self.context.store.take_feedback(run.id, run.repository, run.pull_request)
        self.context.trace.event(
            "feedback", iteration=run.iteration, items=[item.model_dump() for item in taken]
        )
        base, branch = str(pull["base"]["ref"]), str(pull["head"]["ref"])
        work = work_dir(self.context.settings.data_dir)
        # removed after the sandboxes that mounted checkouts in it (see bot.sandbox.deferred)
        async with temporary_folder(f"patchbot-run-{run.id}-", work) as tmp:
            checkout = tmp / "repo"
            url = str(pull["base"]["repo"]["clone_url"])  # the pull request names its repository
            await clone(url, checkout, await self.fresh_token(), branch=base)
            try:  # the base branch's policy: the pull request's own branch cannot loosen it
                merged = effective_policy(self.server_policy, checkout)
            except ConfigError as error:
                return await self.escalate_config(error)
            policy = merged.policy
            self.context.trace.event("policy", policy=policy.model_dump())
            today = await self.spent_today()
            refused = await self.refused(policy, taken, today)
            if refused:
                return await self.give_up(refused)
            feedback = await self.steering(policy, taken)
            if not feedback:
                return await self.end(say.nothing_to_address(taken))
            head = await fetch_head(checkout, url, branch, await self.fresh_token())
            if head is None:
                return await self.give_up(
                    f"the branch `{branch}` no longer exists, so there is nothing to revise"
                )
            self.step("checked out", f"`{branch}` at {head[:12]}")
            return await self.revise(checkout, url, pull, issue, policy, feedback, head, today)

    async def refused(self, policy: Policy, taken: list[Feedback], today: Usage) -> str:
        """Why the policy stops this revision before it starts, or ''. Failed checks past the
        repair limit are dropped (`repairs_exhausted`); alone, they stop the run."""
        rules, run = policy.revisions, self.run
        assert run.pull_request is not None
        if not rules.enabled:
            return "revisions are turned off by the policy (`revisions.enabled`)"
        budget = budget_gate(policy, today, starting=True)
        if budget.verdict == "deny":
            return budget.reason
        if run.iteration > rules.max_revisions:
            return (
                f"this would be revision {run.iteration}; the policy allows "
                f"{rules.max_revisions} per pull request (`revisions.max_revisions`)"
            )
        if rules.ci_repair and any(item.kind == "check" for item in taken):
            earlier = await self.context.store.pull_runs(run.repository, run.pull_request)
            repairs = sum(1 for other in earlier if other.trigger == "ci" and other.id < run.id)
            self.repairs_exhausted = repairs >= rules.max_ci_repairs
            if self.repairs_exhausted and all(item.kind == "check" for item in taken):
                return (
                    f"checks still fail after {repairs} repair run(s); the policy allows "
                    f"{rules.max_ci_repairs} (`revisions.max_ci_repairs`)"
                )
        return ""

    async def steering(self, policy: Policy, taken: list[Feedback]) -> list[Feedback]:
        """The feedback the agent may read: from people with the policy's permission (it may
        ask more than the server did at intake), and failed checks when repairs are on."""
        allowed: dict[str, bool] = {}
        kept = []
        for item in taken:
            if item.kind == "check":
                if policy.revisions.ci_repair and not self.repairs_exhausted:
                    kept.append(item)
                continue
            if item.author not in allowed:
                role = await permission_of(self.gh, self.run.repository, item.author)
                allowed[item.author] = permission_at_least(role, policy.trigger.min_permission)
            if allowed[item.author]:
                kept.append(item)
        dropped = len(taken) - len(kept)
        if dropped:
            self.context.trace.event("feedback_dropped", count=dropped)
        return kept

    async def revise(
        self,
        checkout: Path,
        url: str,
        pull: dict[str, Any],
        issue: dict[str, Any],
        policy: Policy,
        feedback: list[Feedback],
        head: str,
        today: Usage,
    ) -> RunOutcome:
        base, branch = str(pull["base"]["ref"]), str(pull["head"]["ref"])
        merge = None
        if any(item.kind == "update" for item in feedback):
            merge = await merge_base(checkout, base, branch)
            self.step("merged", say.merge_detail(merge, base))
        asks = [item for item in feedback if item.kind != "update"]
        if merge is not None and merge.state == "up_to_date" and not asks:
            return await self.end(f"`{branch}` is already up to date with `{base}`")
        conflicts = merge is not None and merge.state == "conflicts"
        diff = await run_git(["diff", f"origin/{base}...{head}"], cwd=checkout)
        request = self.solve_request(checkout, issue, policy, today)
        request = request.model_copy(
            update={
                "revision": say.feedback_prompt(feedback, diff[:MAX_DIFF_CHARS], merge, base),
                "baseline_commit": head if conflicts else None,
                # Reviews ask for changes that need not fix a failing test: no test may break.
                "verify": request.verify.model_copy(update={"require_improvement": False}),
            }
        )
        patch, summary = "", ""
        cost: float | None = 0.0  # a clean merge alone calls no model
        if asks or conflicts:
            result = await self.solve(request)
            cost = result.stats.cost_usd
            if not result.verified:
                return await self.give_up(result.detail, cost=cost, tried=result.summary)
            assert result.verification is not None
            verification, patch, summary = result.verification, result.patch, result.summary
            gates = self.final_gates(policy, result, today, checkout)
            if gates.verdict != "allow":
                return await self.give_up(
                    f"the policy holds this change back ({gates.reasons()})",
                    cost,
                    tried=summary,
                    patch="" if gates.secret_found else patch,
                )
            if gates.autonomy == "comment":  # a push is more than the policy allows here
                return await self.give_up(
                    "the policy lets Patchbot only comment on changes to these files "
                    "(`autonomy`); the patch was not pushed",
                    cost,
                    tried=summary,
                    patch=patch,
                )
        else:  # a clean merge alone: no agent, but the tests run again
            await self.working_on("verifying", "running the tests before and after the merge")
            verification = await verify_head(
                checkout, head, request, trace=self.context.trace, open_sandbox=self.open_sandbox
            )
            self.step("verified", verification.reason)
            if not verification.accepted:
                return await self.give_up(f"the merge with `{base}` {verification.reason}")
        self.feedback = feedback
        return await self.push(checkout, url, pull, merge, head, patch, summary, verification, cost)

    async def push(
        self,
        checkout: Path,
        url: str,
        pull: dict[str, Any],
        merge: Merge | None,
        head: str,
        patch: str,
        summary: str,
        verification: Verification,
        cost: float | None,
    ) -> RunOutcome:
        run = self.run
        branch = str(pull["head"]["ref"])
        if merge is not None and merge.state == "conflicts":
            left = await leftover_markers_after(checkout, patch, merge)
            if left:
                files = ", ".join(f"`{name}`" for name in left)
                return await self.give_up(f"conflict markers are left in {files}", cost)
        message = say.commit_message(run.pull_request or 0, run.iteration, run.id, merge)
        sha = await commit_revision(checkout, patch, message, head, merge)
        current = await self.gh.getitem(f"/repos/{run.repository}/pulls/{run.pull_request}")
        if current["state"] != "open":  # closed while the agent worked: push nothing
            why = "the pull request was closed; nothing was pushed"
            return await self.end(why, closed=True, cost=cost)
        await self.working_on("pushing", f"one new commit to `{branch}`")
        try:
            await push_fast_forward(checkout, sha, branch, url, await self.fresh_token())
        except BranchMoved as moved:
            return await self.give_up(str(moved), cost)
        self.step("pushed", f"{sha[:12]} to `{branch}`")
        await self.context.store.record_pull_request(run.id, str(pull["html_url"]))
        table = texts.test_table(verification)
        title = texts.check_title(verification)
        await report_check(self.gh, run.repository, sha, title=title, summary=table, success=True)
        await self.update_body(pull, sha, table)
        replied = await self.reply_in_threads(sha, summary)
        await self.unlabel(NEEDS_HUMAN_LABEL)
        text = say.done_text(run.id, run.iteration, sha, summary, table, replied)
        await self.status.show(text, final=True)
        self.context.trace.event(
            "revision_pushed", head=sha, iteration=run.iteration, replied=replied
        )
        return RunOutcome(
            state=RunState.SUCCEEDED,
            summary=f"pushed {sha[:12]} to {branch} (revision {run.iteration})",
            cost_usd=cost,
        )

    async def update_body(self, pull: dict[str, Any], sha: str, table: str) -> None:
        """Swap the test table in the pull request's body (a body a human rewrote without
        its markers is left alone)."""
        body = str(pull.get("body") or "")
        updated = say.with_tests(body, table, self.run.iteration, self.run.id, sha)
        if updated != body:
            url = f"/repos/{self.run.repository}/pulls/{self.run.pull_request}"
            await self.gh.patch(url, data={"body": updated})

    async def reply_in_threads(self, sha: str, summary: str) -> int:
        """Answer each review thread the revision took up; how many."""
        run = self.run
        assert run.pull_request is not None
        threads = sorted({item.source_id for item in self.feedback if item.kind == "line"})
        base = f"/repos/{run.repository}/pulls/{run.pull_request}/comments"
        for comment_id in threads:
            body = say.thread_reply(run.id, run.iteration, sha, summary)
            await self.gh.post(f"{base}/{comment_id}/replies", data={"body": body})
        return len(threads)

    async def end(self, why: str, *, closed: bool = False, cost: float | None = 0.0) -> RunOutcome:
        """Nothing to push, and nothing wrong: say why and stop (`cost`: what the agent cost
        before it turned out there was nothing to push)."""
        await self.status.show(say.nothing_text(self.run.id, why), final=True)
        self.context.trace.event("revision_skipped", reason=why)
        if closed:
            return RunOutcome(state=RunState.CANCELLED, summary=why, cost_usd=cost)
        return RunOutcome(state=RunState.SUCCEEDED, summary=why, cost_usd=cost)

    async def give_up(
        self, why: str, cost: float | None = 0.0, tried: str = "", patch: str = ""
    ) -> RunOutcome:
        """Escalate on the pull request: why, what the agent tried (and the verified patch a
        gate held back, for a human to apply), nothing pushed."""
        text = say.escalation_text(self.run.id, why, tried, patch)
        await self.status.show(text, final=True)
        await self.label(NEEDS_HUMAN_LABEL)
        self.context.trace.event("escalated", reason="revision", detail=why)
        return RunOutcome(state=RunState.ESCALATED, summary=why, cost_usd=cost)


async def leftover_markers_after(checkout: Path, patch: str, merge: Merge) -> list[str]:
    """The conflicted files that would still hold markers once `patch` is applied."""
    probe = checkout.parent / "probe"
    await run_git(["worktree", "add", "--quiet", "--detach", str(probe), "HEAD"], cwd=checkout)
    try:
        if patch.strip():
            await apply_patch(probe, patch, index=False)
        return leftover_markers(probe, merge.conflicts)
    finally:
        await run_git(["worktree", "remove", "--force", str(probe)], cwd=checkout)
