"""A task in SWE-bench's record format, with the few fields of our own that mining adds."""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from bot.errors import ConfigError
from bot.trace import read_trace

TEST_MODULE = re.compile(r"^(test_.*|.*_test|tests?)\.py$")
"""pytest's default test file names (`bot.setup.detect` reads any `test*.py` as a hint)."""
_TEST_DIRS = frozenset({"test", "tests", "testing"})
_DIFF_FILE = re.compile(r"^diff --git a/(.+?) b/(.+)$", re.MULTILINE)


def is_test_path(path: str) -> bool:
    """A file of the test suite: under a `test`/`tests`/`testing` folder or named like a test."""
    parts = path.split("/")
    return any(part in _TEST_DIRS for part in parts[:-1]) or bool(TEST_MODULE.match(parts[-1]))


def is_test_module(path: str) -> bool:
    """A test file a runner collects (`test_x.py`, `x_test.py`), not a helper or conftest."""
    return path.endswith(".py") and bool(TEST_MODULE.match(posixpath.basename(path)))


def diff_files(patch: str) -> list[str]:
    """The paths a git diff touches (the new name of a renamed file)."""
    return [match.group(2) for match in _DIFF_FILE.finditer(patch)]


class Task(BaseModel):
    """One task: the base commit, the fix (`patch`) and its tests (`test_patch`), and which
    tests must go from failing to passing and which must keep passing."""

    model_config = {"extra": "allow"}  # a SWE-bench dataset's other fields ride along

    instance_id: str
    repo: str
    """`owner/name` in SWE-bench; the repository's folder name for mined tasks."""
    base_commit: str
    patch: str
    """The fix without its tests: what the agent has to write."""
    test_patch: str
    """The commit's test changes: applied over the candidate when grading."""
    problem_statement: str
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str] = Field(default_factory=list)
    hints_text: str = ""
    created_at: str = ""
    version: str = ""
    environment_setup_commit: str = ""
    repo_path: str = ""
    """Ours: the local repository holding `base_commit` (eval run's `--repo` overrides it)."""
    commit: str = ""
    """Ours: the fix commit the task was mined from."""
    test_files: list[str] = Field(default_factory=list)
    """Ours: the test modules the commit touches, run when grading unless `test_scope` is
    `suite` (default: those `test_patch` touches)."""
    test_scope: Literal["suite", "touched"] = "touched"
    """Ours: grading runs the whole suite (mined with every test), or the test modules."""
    setup_image: str = ""
    """Ours: the sandbox image the set-up planner chose for the base commit while mining."""

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        """SWE-bench's published datasets hold these lists as JSON text."""
        return json.loads(value) if isinstance(value, str) else value

    def graded_files(self) -> list[str]:
        """The test modules grading runs; none named: the whole suite."""
        if self.test_scope == "suite":
            return []
        return self.test_files or [p for p in diff_files(self.test_patch) if is_test_module(p)]


def read_tasks(path: Path) -> list[Task]:
    """Every task of a JSON-lines file; ConfigError naming the line of a bad record."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigError(f"cannot read tasks {path}: {error.strerror}") from error
    tasks = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            tasks.append(Task.model_validate_json(line))
        except ValueError as error:
            raise ConfigError(f"{path}:{number}: not a task record: {error}") from error
    return tasks


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSON-lines file written by us, skipping a line a kill cut short."""
    if path.exists():
        yield from (record for record in read_trace(path) if isinstance(record, dict))


def _cut_short(path: Path) -> bool:
    """Whether the file's last line has no line end (its last byte only is read)."""
    if not path.exists() or not path.stat().st_size:
        return False
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) != b"\n"


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one record as one line and flush it, so a kill loses at most the line being
    written (which `read_jsonl` skips)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, ensure_ascii=False) + "\n"
    if _cut_short(path):
        text = "\n" + text  # after a line a kill cut short
    with path.open("a", encoding="utf-8") as file:
        file.write(text)
        file.flush()
