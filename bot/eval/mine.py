"""`patchbot eval mine`: fix commits of a repository's history as tasks.

A commit is kept when it changes source and tests together and at least one test fails at its
parent (with the commit's tests applied) and passes at the commit. With the `suite` scope the
whole suite runs three times (the parent as it was, the parent with the commit's tests, the
commit): PASS_TO_PASS holds every test passing both times, and a commit that breaks or removes
a test that passed at its parent is rejected, since no gate should accept its fix. A test in
a module the commit leaves alone counts as it ran at the parent: a new test module that cannot
be imported before the fix stops pytest's whole run, not those tests. With the
`touched` scope only the test modules the commit touches run, twice, for suites too slow to
run whole for every commit; PASS_TO_PASS then holds those modules' tests only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from bot.errors import SandboxError
from bot.eval.gitops import Commit, commits, history_free_copy, split_diff
from bot.eval.statement import problem_statement
from bot.eval.tasks import Task, append_jsonl, diff_files, is_test_module, read_jsonl
from bot.sandbox.config import SandboxConfig
from bot.sandbox.deferred import temporary_folder
from bot.sandbox.models import Outcome, TestReport
from bot.solve.checkout import GitError
from bot.solve.verify import SandboxOpener

ConfigFor = Callable[[Path], SandboxConfig]
"""The sandbox a checkout gets (`bot.sandbox.local.local_sandbox` on the command line)."""


class MineOptions(BaseModel):
    repo: Path
    out: Path
    max_commits: int | None = None
    """Commits examined at most, newest first (rejected ones count)."""
    since: str | None = None
    """Only commits after this date (any form `git log --since` reads)."""
    mask: bool = True
    """Hide the files and names the fix reveals in the problem statement."""
    concurrency: int = 1
    """Commits examined at once."""
    scope: Literal["suite", "touched"] = "suite"
    """Run the whole suite, or only the test modules the commit touches (see the module)."""


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


def _in_files(test: str, files: list[str]) -> bool:
    """Whether a test id (pytest's `path::name` or unittest's dotted name) is in `files`."""
    path = test.split("::", 1)[0]
    dotted = [file.removesuffix(".py").replace("/", ".") + "." for file in files]
    return path in files or test.startswith(tuple(dotted))


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
    suite = options.scope == "suite"
    try:
        after_tree = await asyncio.to_thread(history_free_copy, repo, commit.sha, work / "after")
        files = [path for path in files if (after_tree / path).is_file()]
        if not files:
            return "the commit only deletes test modules"
        paths = [] if suite else files
        before_tree = await asyncio.to_thread(
            history_free_copy, repo, commit.parent, work / "before", (tests,)
        )
        before, image = await _run(before_tree, paths, config_for, opener)
        after, _ = await _run(after_tree, paths, config_for, opener)
        reports = [before, after]
        if suite:
            parent = await asyncio.to_thread(
                history_free_copy, repo, commit.parent, work / "parent"
            )
            reports.append((await _run(parent, paths, config_for, opener))[0])
    except GitError as error:
        return f"git: {str(error).splitlines()[0]}"
    except SandboxError as error:  # SetupFailed included
        return f"set-up failed: {str(error).splitlines()[0][:200]}"
    if any(report.timed_out for report in reports):
        return "the tests timed out"
    passed_before = _passed(before)
    if suite:  # a test the commit leaves alone, as it ran before its tests were applied
        parent_passed = _passed(reports[-1])
        passed_before |= {test for test in parent_passed if not _in_files(test, files)}
        broken = parent_passed - _passed(after)
        if broken:
            return f"the fix breaks or removes {len(broken)} test(s) that passed at its parent"
    fail_to_pass = sorted(_passed(after) - passed_before)
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
        PASS_TO_PASS=sorted(_passed(after) & passed_before),
        created_at=commit.date,
        environment_setup_commit=commit.parent,
        repo_path=str(repo.resolve()),
        commit=commit.sha,
        test_files=files,
        test_scope=options.scope,
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
    queue: asyncio.Queue[Commit] = asyncio.Queue()
    for commit in todo:
        queue.put_nowait(commit)

    async def worker() -> None:
        while not queue.empty():
            commit = queue.get_nowait()
            begun = time.monotonic()
            async with temporary_folder("patchbot-mine-", None) as scratch:
                result = await examine(options, commit, config_for, opener, scratch)
            summary.examined += 1
            took = f"({time.monotonic() - begun:.1f} s)"
            title = commit.message.splitlines()[0][:60] if commit.message else ""
            prefix = f"[{summary.examined}/{len(todo)}] {commit.sha[:12]}"
            if isinstance(result, Task):
                append_jsonl(options.out, result.model_dump())
                summary.tasks += 1
                state = {"commit": commit.sha, "decision": "task", "task": result.instance_id}
                say(f"{prefix} task: {len(result.FAIL_TO_PASS)} fail-to-pass {took}  {title}")
            else:
                kind = result.split(":")[0]
                summary.rejected[kind] = summary.rejected.get(kind, 0) + 1
                state = {"commit": commit.sha, "decision": "rejected", "reason": result}
                say(f"{prefix} rejected: {result} {took}  {title}")
            append_jsonl(state_path(options.out), state)

    await asyncio.gather(*(worker() for _ in range(max(1, options.concurrency))))
    summary.seconds = time.monotonic() - started
    return summary
