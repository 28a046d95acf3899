"""`patchbot eval mine`: fix commits of a repository's history as tasks.

A commit is kept when it changes source and tests together and at least one test of the test
modules it touches fails at its parent (with the commit's tests applied) and passes at the
commit. Only those test modules run, not the whole suite: mining stays minutes, not hours,
and PASS_TO_PASS holds the tests of those modules that pass both times.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from bot.errors import SandboxError
from bot.eval.gitops import Commit, commits, history_free_copy, remove_tree, split_diff
from bot.eval.statement import problem_statement
from bot.eval.tasks import Task, append_jsonl, diff_files, is_test_module, read_jsonl
from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import Outcome, TestReport
from bot.solve.checkout import GitError
from bot.solve.verify import SandboxOpener

ConfigFor = Callable[[Path], SandboxConfig]
"""The sandbox a checkout gets (`bot.setup.local.local_sandbox` on the command line)."""


class MineOptions(BaseModel):
    repo: Path
    out: Path
    max_commits: int | None = None
    """Commits examined at most, newest first (rejected ones count)."""
    since: str | None = None
    """Only commits after this date (any form `git log --since` reads)."""
    mask: bool = True
    """Hide the files and names the fix reveals in the problem statement."""


class MineSummary(BaseModel):
    examined: int = 0
    """Commits decided in this session."""
    skipped: int = 0
    """Commits decided by an earlier session (the state file), not examined again."""
    tasks: int = 0
    rejected: dict[str, int] = {}
    seconds: float = 0.0


def state_path(out: Path) -> Path:
    """The sidecar holding every decided commit and why, beside the tasks file."""
    return out.with_name(out.name + ".state.jsonl")


def decided(out: Path) -> set[str]:
    """Commits decided already: in the state file, or (killed between the two writes) a task."""
    records = [*read_jsonl(state_path(out)), *read_jsonl(out)]
    return {str(record["commit"]) for record in records if record.get("commit")}


def _passed(report: TestReport) -> set[str]:
    return {case.id for case in report.cases if case.outcome is Outcome.PASSED}


async def _run(
    tree: Path, files: list[str], config_for: ConfigFor, opener: SandboxOpener
) -> tuple[TestReport, str]:
    """The test modules' report, and the image the set-up planner chose."""
    config = config_for(tree)
    async with opener(tree, config) as sandbox:
        return await sandbox.run_tests(files), (sandbox.config or config).image


async def examine(
    options: MineOptions,
    commit: Commit,
    config_for: ConfigFor,
    opener: SandboxOpener,
    work: Path,
) -> Task | str:
    """The task the commit makes, or why it makes none."""
    repo = options.repo
    fix, tests = await asyncio.to_thread(split_diff, repo, commit.parent, commit.sha)
    if not tests:
        return "no test change"
    if not any(path.endswith(".py") for path in diff_files(fix)):
        return "no source change"
    files = [path for path in diff_files(tests) if is_test_module(path)]
    if not files:
        return "no test module changed (only test helpers or data)"
    before_tree, after_tree = work / "before", work / "after"
    try:
        await asyncio.to_thread(history_free_copy, repo, commit.parent, before_tree, (tests,))
        await asyncio.to_thread(history_free_copy, repo, commit.sha, after_tree)
        files = [path for path in files if (after_tree / path).is_file()]
        if not files:
            return "the commit only deletes test modules"
        before, image = await _run(before_tree, files, config_for, opener)
        after, _ = await _run(after_tree, files, config_for, opener)
    except GitError as error:
        return f"git: {str(error).splitlines()[0]}"
    except SandboxError as error:  # SetupFailed included
        return f"set-up failed: {str(error).splitlines()[0][:200]}"
    if before.timed_out or after.timed_out:
        return "the tests timed out"
    fail_to_pass = sorted(_passed(after) - _passed(before))
    if not fail_to_pass:
        return "no test fails before the fix and passes after it"
    name = repo.resolve().name.removesuffix(".git")
    return Task(
        instance_id=f"{name}-{commit.sha[:12]}",
        repo=name,
        base_commit=commit.parent,
        patch=fix,
        test_patch=tests,
        problem_statement=problem_statement(commit.message, fix, mask=options.mask),
        FAIL_TO_PASS=fail_to_pass,
        PASS_TO_PASS=sorted(_passed(after) & _passed(before)),
        created_at=commit.date,
        environment_setup_commit=commit.parent,
        repo_path=str(repo.resolve()),
        commit=commit.sha,
        test_files=files,
        setup_image=image,
    )


async def mine(
    options: MineOptions,
    config_for: ConfigFor,
    opener: SandboxOpener,
    say: Callable[[str], None],
) -> MineSummary:
    """Examine each commit not decided yet, appending tasks to `out` and every decision to
    the state file as it is made: a killed session resumes where it stopped."""
    started = time.monotonic()
    summary = MineSummary()
    done = decided(options.out)
    found = commits(options.repo, max_commits=options.max_commits, since=options.since)
    todo = [commit for commit in found if commit.sha not in done]
    summary.skipped = len(found) - len(todo)
    if summary.skipped:
        say(f"resuming: {summary.skipped} of {len(found)} commits already decided")
    for index, commit in enumerate(todo, start=1):
        with tempfile.TemporaryDirectory(prefix="patchbot-mine-") as scratch:
            try:
                result = await examine(options, commit, config_for, opener, Path(scratch))
            finally:
                remove_tree(Path(scratch))
        summary.examined += 1
        title = commit.message.splitlines()[0][:60] if commit.message else ""
        prefix = f"[{index}/{len(todo)}] {commit.sha[:12]}"
        if isinstance(result, Task):
            append_jsonl(options.out, result.model_dump())
            summary.tasks += 1
            state = {"commit": commit.sha, "decision": "task", "task": result.instance_id}
            say(f"{prefix} task: {len(result.FAIL_TO_PASS)} fail-to-pass  {title}")
        else:
            kind = result.split(":")[0]
            summary.rejected[kind] = summary.rejected.get(kind, 0) + 1
            state = {"commit": commit.sha, "decision": "rejected", "reason": result}
            say(f"{prefix} rejected: {result}  {title}")
        append_jsonl(state_path(options.out), state)
    summary.seconds = time.monotonic() - started
    return summary
