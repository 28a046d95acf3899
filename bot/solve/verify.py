"""Verification that does not take the model's word: the suite on the base commit and on the
candidate, each in a fresh sandbox, compared test by test."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field

from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import Outcome, TestReport
from bot.sandbox.protocol import Sandbox

SandboxOpener = Callable[[Path, SandboxConfig], AbstractAsyncContextManager[Sandbox]]
"""Opens a set-up sandbox with the given host directory at /workspace (see `open_sandbox`)."""


class VerifyConfig(BaseModel):
    """When a candidate patch counts as proven."""

    require_improvement: bool = True
    """Accept only when at least one test went from failing to passing or is new and passing."""
    allow_removed_tests: bool = False
    """Accept even when tests of the base commit no longer exist (or no longer report)."""
    max_attempts: int = Field(default=3, ge=1)
    """Candidates verified per run; a rejected one goes back to the agent until this many."""


class Change(StrEnum):
    FIXED = "fixed"
    """Failed (or errored) on the base commit, passes with the patch."""
    BROKEN = "broken"
    """Passed on the base commit, fails, errors or is skipped with the patch."""
    STILL_FAILING = "still_failing"
    STILL_PASSING = "still_passing"
    NEW_PASSING = "new_passing"
    """Not run (or skipped) on the base commit, passes with the patch."""
    NEW_FAILING = "new_failing"
    REMOVED = "removed"
    """Ran on the base commit, gone with the patch."""
    SKIPPED = "skipped"
    """Skipped with the patch, and did not pass before."""


class TestChange(BaseModel):
    __test__ = False

    id: str
    before: Outcome | None
    after: Outcome | None
    change: Change


class Verification(BaseModel):
    """The verdict on one candidate."""

    accepted: bool
    reason: str
    """One line: why accepted or rejected."""
    changes: list[TestChange]
    baseline_summary: str
    candidate_summary: str
    candidate_output_tail: str = ""

    def count(self, change: Change) -> int:
        return sum(1 for item in self.changes if item.change is change)

    def ids(self, change: Change) -> list[str]:
        return [item.id for item in self.changes if item.change is change]


_FAILING = (Outcome.FAILED, Outcome.ERROR)


def _change(before: Outcome | None, after: Outcome | None) -> Change:
    if after is None:
        return Change.REMOVED
    if before is Outcome.PASSED:
        return Change.STILL_PASSING if after is Outcome.PASSED else Change.BROKEN
    if after is Outcome.PASSED:
        return Change.FIXED if before in _FAILING else Change.NEW_PASSING
    if after in _FAILING:
        return Change.STILL_FAILING if before in _FAILING else Change.NEW_FAILING
    return Change.STILL_FAILING if before in _FAILING else Change.SKIPPED


def classify(baseline: TestReport, candidate: TestReport) -> list[TestChange]:
    """Each test of either run with its outcome before and after, and what that means."""
    before = {case.id: case.outcome for case in baseline.cases}
    after = {case.id: case.outcome for case in candidate.cases}
    ids = list(before) + [test_id for test_id in after if test_id not in before]
    return [
        TestChange(
            id=test_id,
            before=before.get(test_id),
            after=after.get(test_id),
            change=_change(before.get(test_id), after.get(test_id)),
        )
        for test_id in ids
    ]


def _listed(ids: list[str], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def judge(baseline: TestReport, candidate: TestReport, config: VerifyConfig) -> Verification:
    """Classify every test and decide whether the candidate is proven."""
    changes = classify(baseline, candidate)
    by = {change: [i.id for i in changes if i.change is change] for change in Change}
    broken, removed = by[Change.BROKEN], by[Change.REMOVED]
    fixed, new_passing = by[Change.FIXED], by[Change.NEW_PASSING]
    if candidate.timed_out:
        reason = "rejected: the test suite timed out with the patch"
    elif not candidate.cases:
        reason = f"rejected: the test suite reported no tests (exit code {candidate.exit_code})"
    elif broken:
        reason = f"rejected: {len(broken)} broken test(s): {_listed(broken)}"
    elif removed and not config.allow_removed_tests:
        reason = f"rejected: {len(removed)} test(s) of the base commit are gone: {_listed(removed)}"
    elif config.require_improvement and not (fixed or new_passing):
        reason = "rejected: no test went from failing to passing, and no new test passes"
    else:
        reason = (
            f"accepted: {len(fixed)} fixed, {len(new_passing)} new passing, "
            f"0 broken, {len(by[Change.STILL_FAILING])} still failing"
        )
    return Verification(
        accepted=reason.startswith("accepted"),
        reason=reason,
        changes=changes,
        baseline_summary=baseline.summary_line(),
        candidate_summary=candidate.summary_line(),
        candidate_output_tail=candidate.output_tail[-3000:],
    )


async def run_suite(tree: Path, config: SandboxConfig, open_sandbox: SandboxOpener) -> TestReport:
    """The whole suite of the checkout at `tree`, in a sandbox of its own."""
    async with open_sandbox(tree, config) as sandbox:
        return await sandbox.run_tests()


def feedback(verification: Verification) -> str:
    """The verdict as the agent reads it: what broke, what still fails, the output's end."""
    lines = [verification.reason, f"before: {verification.baseline_summary}"]
    lines.append(f"after: {verification.candidate_summary}")
    for change in (Change.BROKEN, Change.REMOVED, Change.STILL_FAILING, Change.NEW_FAILING):
        ids = verification.ids(change)
        if ids:
            lines.append(f"{change.value}: {_listed(ids, 10)}")
    if verification.candidate_output_tail:
        lines.append(f"output (end):\n{verification.candidate_output_tail[-1500:]}")
    return "\n".join(lines)
