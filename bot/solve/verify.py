"""Verification that does not take the model's word: the verdict, test by test, from the runs on
the base commit, the candidate, the candidate's tests without its fix, and the base's tests
on its fix (see `bot.solve.proof`, which makes the runs)."""

from __future__ import annotations

from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from bot.policy.model import Policy
from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import Outcome, TestReport
from bot.sandbox.protocol import Sandbox
from bot.solve.finding import Finding


class SandboxOpener(Protocol):
    """Opens a set-up sandbox with the given host directory at /workspace; with `edited`, it
    starts on the tree as it is and is handed over once the caller's edits are done (see
    `bot.sandbox.docker.open_sandbox`)."""

    def __call__(
        self, workspace: Path, config: SandboxConfig, *, edited: Awaitable[None] | None = None
    ) -> AbstractAsyncContextManager[Sandbox]: ...


class VerifyConfig(BaseModel):
    """When a candidate patch counts as proven."""

    require_improvement: bool = True
    """Accept only when at least one test is proven by failing first or a failing test is fixed."""
    allow_removed_tests: bool = False
    """Accept even when tests of the base commit no longer exist (or no longer report)."""
    max_attempts: int = Field(default=3, ge=1)
    """Candidates verified per run; a rejected one goes back to the agent until this many."""
    reruns: int = Field(default=2, ge=0)
    """Times a failure that would decide the verdict is run again; a changing outcome is flaky."""


class Change(StrEnum):
    PROVEN = "proven"
    """New or changed test: fails on the base source with the patch's tests, passes with the fix."""
    FIXED = "fixed"
    """Failed on the base commit, passes with the patch, and with the base's own test files."""
    PASSES_WITHOUT_FIX = "passes_without_fix"
    """New test that passes on the base source too: it proves nothing."""
    GREEN_BY_TEST_EDIT = "green_by_test_edit"
    """Failed on the base commit; passes only with the patch's edits to the tests."""
    BROKEN = "broken"
    """Passed on the base commit, fails, errors or is skipped with the patch."""
    STILL_FAILING = "still_failing"
    STILL_PASSING = "still_passing"
    NEW_FAILING = "new_failing"
    FLAKY = "flaky"
    """Its outcome changed between reruns: never counted as fixed or broken."""
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
    without_fix: Outcome | None = None
    """Its outcome on the base source with the patch's tests (`None`: not run there)."""
    note: str = ""
    """Evidence in words: an import error counted as failing, the reruns' outcomes."""


class Runs(BaseModel):
    """The runs one verdict is read from; all with the base commit's test configuration."""

    baseline: TestReport
    candidate: TestReport
    tests_only: TestReport | None = None
    """Base source with the patch's test changes: which new tests fail without the fix."""
    source_only: TestReport | None = None
    """Base test files with the patch's source changes: which baseline failures it fixes."""
    test_files: list[str] = Field(default_factory=list)
    """Test files the patch adds or changes."""
    flaky: dict[str, list[Outcome]] = Field(default_factory=dict)
    """Tests whose outcome changed between reruns, with every outcome seen."""


class Verification(BaseModel):
    """The verdict on one candidate."""

    accepted: bool
    reason: str
    """One line: why accepted or rejected."""
    changes: list[TestChange]
    baseline_summary: str
    candidate_summary: str
    candidate_output_tail: str = ""
    runs: list[str] = Field(default_factory=list)
    """The runs the verdict read, one line each."""
    findings: list[Finding] = Field(default_factory=list)
    """The integrity gate's findings on the patch (see `bot.solve.integrity`)."""
    flaky: dict[str, list[Outcome]] = Field(default_factory=dict)
    """Tests whose outcome changed between reruns in this verification, each outcome seen."""

    @property
    def held(self) -> list[Finding]:
        """Findings the default policy holds for a human's approval."""
        return [finding for finding in self.findings if finding.held]

    def count(self, change: Change) -> int:
        return sum(1 for item in self.changes if item.change is change)

    def ids(self, change: Change) -> list[str]:
        return [item.id for item in self.changes if item.change is change]


_FAILING = (Outcome.FAILED, Outcome.ERROR)


def _outcomes(report: TestReport | None) -> dict[str, Outcome]:
    return {case.id: case.outcome for case in report.cases} if report else {}


def _without_fix(test_id: str, tests_only: dict[str, Outcome]) -> tuple[Outcome | None, str]:
    """A test's outcome without the fix; a module that failed to import counts as failing."""
    if test_id in tests_only:
        return tests_only[test_id], ""
    module = test_id.split("::", 1)[0]
    if tests_only.get(module) in _FAILING:
        return Outcome.ERROR, "its module fails to import without the fix (counted as failing)"
    return None, ""


def _change(item: TestChange, runs: Runs, tests_only: dict[str, Outcome]) -> Change:
    before, after = item.before, item.after
    if after is None:
        return Change.REMOVED
    if before is Outcome.PASSED:
        if after is not Outcome.PASSED:
            return Change.BROKEN
        if tests_only.get(item.id) in _FAILING:  # a changed test that fails without the fix
            item.without_fix = tests_only[item.id]
            return Change.PROVEN
        return Change.STILL_PASSING
    if after is Outcome.PASSED:
        if before in _FAILING:
            source_only = _outcomes(runs.source_only) if runs.source_only else None
            if source_only is not None and source_only.get(item.id) is not Outcome.PASSED:
                return Change.GREEN_BY_TEST_EDIT
            return Change.FIXED
        item.without_fix, item.note = _without_fix(item.id, tests_only)
        return Change.PROVEN if item.without_fix in _FAILING else Change.PASSES_WITHOUT_FIX
    if after in _FAILING:
        return Change.STILL_FAILING if before in _FAILING else Change.NEW_FAILING
    return Change.STILL_FAILING if before in _FAILING else Change.SKIPPED


def classify(runs: Runs) -> list[TestChange]:
    """Each test of the baseline or the candidate with its outcomes, and what they mean."""
    before, after = _outcomes(runs.baseline), _outcomes(runs.candidate)
    tests_only = _outcomes(runs.tests_only)
    ids = list(before) + [test_id for test_id in after if test_id not in before]
    changes = []
    for test_id in ids:
        if test_id not in after and any(other.startswith(test_id + "::") for other in after):
            continue  # a module that failed to import, whose tests now run and are judged
        item = TestChange(
            id=test_id, before=before.get(test_id), after=after.get(test_id), change=Change.FLAKY
        )
        if test_id in runs.flaky:
            item.note = "reruns: " + ", ".join(o.value for o in runs.flaky[test_id])
        else:
            item.change = _change(item, runs, tests_only)
        changes.append(item)
    return changes


def _listed(ids: list[str], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _untrusted(runs: Runs) -> str:
    for name, report in (
        ("the candidate run", runs.candidate),
        ("the run without the fix", runs.tests_only),
        ("the run of the base's tests", runs.source_only),
    ):
        if report is not None and report.tampered:
            return f"rejected: the judge cannot trust {name}: {'; '.join(report.tampered)}"
    return ""


def judge(runs: Runs, config: VerifyConfig) -> Verification:
    """Classify every test and decide whether the candidate is proven."""
    candidate = runs.candidate
    changes = classify(runs)
    by = {change: [i.id for i in changes if i.change is change] for change in Change}
    broken, removed = by[Change.BROKEN], by[Change.REMOVED]
    proven, fixed = by[Change.PROVEN], by[Change.FIXED]
    if candidate.timed_out:
        reason = "rejected: the test suite timed out with the patch"
    elif untrusted := _untrusted(runs):
        reason = untrusted
    elif not candidate.cases:
        reason = f"rejected: the test suite reported no tests (exit code {candidate.exit_code})"
    elif broken:
        reason = f"rejected: {len(broken)} broken test(s): {_listed(broken)}"
    elif removed and not config.allow_removed_tests:
        reason = f"rejected: {len(removed)} test(s) of the base commit are gone: {_listed(removed)}"
    elif config.require_improvement and not (proven or fixed):
        reason = "rejected: no test failed without the fix and passes with it" + _why_not(by)
    else:
        reason = (
            f"accepted: {len(proven)} proven by failing first, {len(fixed)} fixed, 0 broken, "
            f"{len(by[Change.STILL_FAILING])} still failing"
        )
    return Verification(
        accepted=reason.startswith("accepted"),
        reason=reason,
        changes=changes,
        baseline_summary=runs.baseline.summary_line(),
        candidate_summary=candidate.summary_line(),
        candidate_output_tail=candidate.output_tail[-3000:],
        runs=[
            f"{name}: {report.summary_line()}"
            for name, report in (
                ("base", runs.baseline),
                ("candidate", candidate),
                ("without the fix", runs.tests_only),
                ("base tests on the fix", runs.source_only),
            )
            if report is not None
        ],
    )


def _why_not(by: dict[Change, list[str]]) -> str:
    reasons = [
        f"{len(by[change])} {text}: {_listed(by[change], 3)}"
        for change, text in (
            (Change.PASSES_WITHOUT_FIX, "new test(s) pass without the fix"),
            (Change.GREEN_BY_TEST_EDIT, "pass only with edited tests"),
            (Change.FLAKY, "flaky"),
        )
        if by[change]
    ]
    return f" ({'; '.join(reasons)})" if reasons else ""


async def run_suite(tree: Path, config: SandboxConfig, open_sandbox: SandboxOpener) -> TestReport:
    """The whole suite of the checkout at `tree`, in a sandbox of its own."""
    async with open_sandbox(tree, config) as sandbox:
        return await sandbox.run_tests()


def feedback(verification: Verification) -> str:
    """The verdict as the agent reads it: what broke, what still fails, the output's end."""
    lines = [verification.reason, f"before: {verification.baseline_summary}"]
    lines.append(f"after: {verification.candidate_summary}")
    for change in (
        Change.BROKEN,
        Change.REMOVED,
        Change.PASSES_WITHOUT_FIX,
        Change.GREEN_BY_TEST_EDIT,
        Change.STILL_FAILING,
        Change.NEW_FAILING,
        Change.FLAKY,
    ):
        ids = verification.ids(change)
        if ids:
            lines.append(f"{change.value}: {_listed(ids, 10)}")
    if verification.candidate_output_tail:
        lines.append(f"output (end):\n{verification.candidate_output_tail[-1500:]}")
    return "\n".join(lines)


def verify_config(policy: Policy) -> VerifyConfig:
    """Verification with the policy's attempts per run and reruns of deciding failures."""
    return VerifyConfig(max_attempts=policy.budgets.attempts, reruns=policy.verification.reruns)
