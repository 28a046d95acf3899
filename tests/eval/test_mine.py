"""Mining the made-up history in real sandboxes: which commits become tasks, why the others do
not, and a second session deciding nothing twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.eval.mine import MineOptions, mine, state_path
from bot.eval.tasks import read_jsonl, read_tasks
from bot.sandbox.local import local_sandbox
from bot.solve.solver import docker_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.slow]
Mined = tuple[Path, dict[str, str], Path, list[str]]


def test_fixes_with_failing_tests_become_tasks_and_the_rest_say_why(mined: Mined) -> None:
    repo, made, out, lines = mined
    tasks = {task.commit: task for task in read_tasks(out)}
    assert set(tasks) == {made["fix"], made["feature"]}
    fix = tasks[made["fix"]]
    assert fix.base_commit == made["docs"] and fix.instance_id == f"calc-{made['fix'][:12]}"
    assert fix.FAIL_TO_PASS == [
        "tests/test_calc.py::test_mul",
        "tests/test_calc.py::test_mul_by_one",
    ]
    assert fix.PASS_TO_PASS == ["tests/test_calc.py::test_add"]
    assert "return a * b" in fix.patch and "tests/" not in fix.patch
    assert fix.test_files == ["tests/test_calc.py"] and fix.repo_path == str(repo.resolve())
    assert fix.problem_statement.startswith("mul is off by one")
    feature = tasks[made["feature"]]
    assert feature.FAIL_TO_PASS == ["tests/test_clamp.py::test_clamp_between"]
    assert feature.PASS_TO_PASS == [  # the whole suite's: tests the commit does not touch too
        "tests/test_calc.py::test_add",
        "tests/test_calc.py::test_mul",
        "tests/test_calc.py::test_mul_by_one",
    ]
    assert feature.graded_files() == []
    assert "clamp_between" not in feature.problem_statement  # hidden: the name the fix adds
    reasons = {record["commit"]: record.get("reason") for record in read_jsonl(state_path(out))}
    assert reasons == {
        made["later"]: "no test change",
        made["breaking"]: "the fix breaks or removes 2 test(s) that passed at its parent",
        made["refactor"]: "no test fails before the fix and passes after it",
        made["feature"]: None,
        made["tests_only"]: "no source change",
        made["fix"]: None,
        made["docs"]: "no test change",
    }
    assert len(lines) == 7 and lines[0].startswith("[1/7] ")
    assert any("rejected: no source change" in line for line in lines)


def test_a_second_session_examines_only_what_is_new(mined: Mined, tmp_path: Path) -> None:
    repo, _, out, _ = mined
    copy = tmp_path / "tasks.jsonl"
    copy.write_text(out.read_text())
    state_path(copy).write_text(state_path(out).read_text())
    lines: list[str] = []
    summary = asyncio.run(
        mine(MineOptions(repo=repo, out=copy), local_sandbox, docker_sandbox, lines.append)
    )
    assert (summary.examined, summary.skipped, summary.tasks) == (0, 7, 0)
    assert lines == ["resuming: 7 of 7 commits already decided"]
    assert copy.read_text() == out.read_text()


def test_the_touched_scope_runs_only_the_commits_test_modules(
    history: tuple[Path, dict[str, str]], tmp_path: Path, docker_ready: None
) -> None:
    repo, made = history
    out = tmp_path / "tasks.jsonl"
    options = MineOptions(repo=repo, out=out, max_commits=2, scope="touched")
    asyncio.run(mine(options, local_sandbox, docker_sandbox, lambda line: None))
    [task] = read_tasks(out)  # what breaks `mul` goes unseen: its tests do not run
    assert task.commit == made["breaking"] and task.test_scope == "touched"
    assert task.FAIL_TO_PASS == ["tests/test_sub.py::test_sub"] and task.PASS_TO_PASS == []
    assert task.graded_files() == ["tests/test_sub.py"]
