"""Task records, history-free copies and problem statements: no Docker needed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bot.eval.gitops import commits, history_free_copy, split_diff
from bot.eval.statement import HIDDEN, problem_statement
from bot.eval.tasks import append_jsonl, diff_files, is_test_path, read_jsonl, read_tasks
from bot.solve.checkout import GitError, git
from tests.eval.history import LATER_FILE


def test_test_paths_are_told_from_source() -> None:
    assert is_test_path("tests/test_x.py") and is_test_path("pkg/tests/data.json")
    assert is_test_path("src/x_test.py") and is_test_path("testing/conftest.py")
    assert not is_test_path("src/pkg/testament.py") and not is_test_path("pkg/contest.py")


def test_a_swe_bench_record_with_its_lists_as_json_text_loads(tmp_path: Path) -> None:
    record = {
        "instance_id": "o__r-1", "repo": "o/r", "base_commit": "a" * 40, "patch": "",
        "test_patch": "diff --git a/tests/test_a.py b/tests/test_a.py\n", "problem_statement": "x",
        "FAIL_TO_PASS": json.dumps(["tests/test_a.py::t"]), "PASS_TO_PASS": "[]",
        "version": "1.0", "unknown_field": 3,
    }  # fmt: skip
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(record) + "\n\n")
    [task] = read_tasks(path)
    assert task.FAIL_TO_PASS == ["tests/test_a.py::t"] and task.PASS_TO_PASS == []
    assert task.graded_files() == ["tests/test_a.py"]
    assert task.model_dump()["unknown_field"] == 3


def test_a_line_cut_short_by_a_kill_is_skipped_and_the_next_append_is_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results.jsonl"
    append_jsonl(path, {"n": 1})
    with path.open("a") as file:
        file.write('{"n": 2, "cut')
    append_jsonl(path, {"n": 3})
    assert [record["n"] for record in read_jsonl(path)] == [1, 3]


def test_a_commit_splits_into_its_fix_and_its_tests(history: tuple[Path, dict[str, str]]) -> None:
    repo, made = history
    fix, tests = split_diff(repo, made["docs"], made["fix"])
    assert diff_files(fix) == ["calc/__init__.py"] and diff_files(tests) == ["tests/test_calc.py"]
    assert "-    return a * b + 0 + 1" in fix and "+def test_mul():" in tests
    found = commits(repo, max_commits=None, since=None)
    assert [commit.sha for commit in found] == [
        made[name]
        for name in ("later", "breaking", "refactor", "feature", "tests_only", "fix", "docs")
    ]  # newest first; the root commit has no parent to compare with
    assert len(commits(repo, max_commits=2, since=None)) == 2
    assert commits(repo, max_commits=None, since="2024-01-05T12:00:00Z")[-1].sha == made["refactor"]


def test_a_history_free_copy_holds_nothing_from_after_its_commit(
    history: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, made = history
    git("tag", "v1.0", made["later"], cwd=repo)
    copy = history_free_copy(repo, made["docs"], tmp_path / "copy")
    for later in ("fix", "feature", "breaking", "later"):
        with pytest.raises(GitError):
            git("cat-file", "-t", made[later], cwd=copy)
    assert git("rev-list", "--all", cwd=copy).split() == [
        git("rev-parse", "HEAD", cwd=copy).strip()
    ]
    assert git("for-each-ref", "--format=%(refname)", cwd=copy).split() == ["refs/heads/main"]
    stored = git("cat-file", "--batch-all-objects", "--batch-check=%(objectname)", cwd=copy)
    reachable = git("rev-list", "--objects", "--all", cwd=copy).split("\n")
    assert sorted(stored.split()) == sorted(line.split()[0] for line in reachable if line)
    assert not (copy / LATER_FILE).exists() and not (copy / "tests" / "test_clamp.py").exists()
    assert (copy / "calc" / "__init__.py").read_text() == git(
        "show", f"{made['docs']}:calc/__init__.py", cwd=repo
    )
    log = subprocess.run(["git", "log", "--format=%an %ad %s"], cwd=copy, capture_output=True)
    assert b"Dev" not in log.stdout and b"2024" not in log.stdout


def test_the_statement_hides_the_files_and_the_names_the_fix_adds(
    history: tuple[Path, dict[str, str]],
) -> None:
    repo, made = history
    fix, _ = split_diff(repo, made["tests_only"], made["feature"])
    message = "Add clamp_between to calc/__init__.py\n\nLike clamp_between_all, clamp values."
    masked = problem_statement(message, fix, mask=True)
    assert masked == f"Add {HIDDEN} to {HIDDEN}\n\nLike clamp_between_all, clamp values."
    assert problem_statement(message, fix, mask=False) == message


def test_an_attribute_the_fix_sets_is_hidden_and_one_it_only_changes_is_not() -> None:
    patch = (
        "diff --git a/pkg/core.py b/pkg/core.py\n--- a/pkg/core.py\n+++ b/pkg/core.py\n"
        "-    wrapper.cache_lock = lock\n+    wrapper.cache_lock = lock or None\n"
        "+    wrapper.cache_condition = condition\n"
    )
    message = "Add cache_condition next to cache_lock in core"
    masked = problem_statement(message, patch, mask=True)
    assert masked == f"Add {HIDDEN} next to cache_lock in {HIDDEN}"
