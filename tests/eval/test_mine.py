"""Mining the made-up history in real sandboxes: which commits become tasks, why the others do
not, and a second session deciding nothing twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.eval.mine import MineOptions, mine, state_path
from bot.eval.tasks import read_jsonl, read_tasks
from bot.setup.local import local_sandbox
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
    assert "clamp_between" not in feature.problem_statement  # hidden: the name the fix adds
    reasons = {record["commit"]: record.get("reason") for record in read_jsonl(state_path(out))}
    assert reasons == {
        made["later"]: "no test change",
        made["refactor"]: "no test fails before the fix and passes after it",
        made["feature"]: None,
        made["tests_only"]: "no source change",
        made["fix"]: None,
        made["docs"]: "no test change",
    }
    assert len(lines) == 6 and lines[0].startswith("[1/6] ")
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
    assert (summary.examined, summary.skipped, summary.tasks) == (0, 6, 0)
    assert lines == ["resuming: 6 of 6 commits already decided"]
    assert copy.read_text() == out.read_text()
