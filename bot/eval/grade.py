"""SWE-bench's grading: the candidate's diff on a fresh base tree, the task's test files put
back to the base and the task's test patch applied over them, and every FAIL_TO_PASS and
PASS_TO_PASS test must pass."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import BaseModel, Field

from bot.errors import SandboxError
from bot.eval.gitops import apply_patch, restore_files, tree_copy
from bot.eval.tasks import Task, diff_files
from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import Outcome
from bot.solve.checkout import GitError
from bot.solve.verify import SandboxOpener


class Grade(BaseModel):
    resolved: bool
    reason: str
    """One line: resolved, or the first thing that stopped it."""
    failing: list[str] = Field(default_factory=list)
    """FAIL_TO_PASS and PASS_TO_PASS tests that did not pass."""


def prepare(base: Path, tree: Path, task: Task, candidate: str) -> str | None:
    """The tree to grade at `tree`; why it cannot be made, or None."""
    tree_copy(base, "HEAD", tree)
    try:
        apply_patch(tree, candidate, "candidate")
    except GitError as error:
        return f"the candidate does not apply: {str(error).splitlines()[0]}"
    restore_files(base, "HEAD", tree, diff_files(task.test_patch))
    try:
        apply_patch(tree, task.test_patch, "tests")
    except GitError as error:
        return f"the test patch does not apply: {str(error).splitlines()[0]}"
    return None


async def grade(
    base: Path,
    tree: Path,
    task: Task,
    candidate: str,
    config: SandboxConfig,
    opener: SandboxOpener,
) -> Grade:
    """Grade `candidate` against the base repository at `base` (a history-free copy), in a
    fresh tree at `tree`."""
    if not candidate.strip():
        return Grade(resolved=False, reason="no candidate patch")
    problem = await asyncio.to_thread(prepare, base, tree, task, candidate)
    if problem is not None:
        return Grade(resolved=False, reason=problem)
    try:
        async with opener(tree, config) as sandbox:
            report = await sandbox.run_tests(task.graded_files())
    except SandboxError as error:
        return Grade(resolved=False, reason=f"the sandbox failed: {str(error).splitlines()[0]}")
    passed = {case.id for case in report.cases if case.outcome is Outcome.PASSED}
    failing = [test for test in [*task.FAIL_TO_PASS, *task.PASS_TO_PASS] if test not in passed]
    if failing:
        return Grade(
            resolved=False, reason=f"{len(failing)} required test(s) fail", failing=failing
        )
    return Grade(resolved=True, reason="every FAIL_TO_PASS and PASS_TO_PASS test passes")
