"""Which command runs a repository's tests, and what its output says about each test."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from bot.errors import ConfigError
from bot.sandbox.models import ExecResult, Outcome, TestCase, TestReport
from bot.sandbox.repo_files import is_dir, iter_repo_files, load_toml, read_repo_text
from bot.sandbox.report_parsing import parse_junit, parse_pytest_text, parse_unittest_text
from bot.sandbox.setup_plan import declared_requirement_names

JUNIT_PATH = "/tmp/patchbot-junit.xml"
PYTEST = f"python -m pytest -p no:cacheprovider -q -rA --junitxml={JUNIT_PATH}"
UNITTEST = "python -m unittest"
SYNTHETIC_ID = "<test command>"
"""The id of the one case made up from the exit code when the output names no test."""
TAIL_LINES = 60
TAIL_BYTES = 8 * 1024
SCAN_FILES = 2000
"""Most test files read to decide between pytest and unittest."""
_TEST_FILE = re.compile(r"^(test.*|.*_test)\.py$")
_USES_PYTEST = re.compile(r"^\s*(import pytest\b|from pytest\b|from _pytest\b)", re.MULTILINE)
_USES_UNITTEST = re.compile(r"^\s*(import unittest\b|from unittest\b)", re.MULTILINE)


class TestPlan(BaseModel):
    """How to run a repository's tests in the sandbox and where the per-test results appear."""

    __test__ = False

    runner: Literal["pytest", "unittest", "command"]
    """The detected runner, or `command` for a configured command."""
    command: str
    """Shell command, run with `bash -c` in `/workspace` inside the sandbox."""
    junit_path: str | None
    """Where the runner writes JUnit XML inside the sandbox, or None. Remove it before a run:
    a file left from an earlier run would be read as this run's result."""


def plan_tests(
    workspace: Path, *, configured: str | None = None, paths: Sequence[str] = ()
) -> TestPlan:
    """The test command for the checkout at `workspace`, limited to `paths` where given.

    A configured command always wins and runs as it is (`paths` are checked, then ignored).
    Raises ConfigError for a path that is absolute, leaves the repository, or looks like an option.
    """
    checked = [_check_path(path) for path in paths]
    if configured is not None and configured.strip():
        return TestPlan(runner="command", command=configured, junit_path=None)
    if detect_runner(workspace) == "pytest":
        command = " ".join([PYTEST, *(shlex.quote(path) for path in checked)])
        return TestPlan(runner="pytest", command=command, junit_path=JUNIT_PATH)
    targets = [t for path in checked for t in _unittest_targets(workspace, path)]
    if targets:
        command = " ".join([UNITTEST, "-v", *(shlex.quote(t) for t in targets)])
    elif not checked and _needs_start_dir(workspace):
        command = f"{UNITTEST} discover -v -s tests"
    else:
        command = f"{UNITTEST} discover -v"
    return TestPlan(runner="unittest", command=command, junit_path=None)


def detect_runner(workspace: Path) -> Literal["pytest", "unittest"]:
    """pytest when anything points to it; unittest when every test file uses only unittest."""
    if read_repo_text(workspace, "pytest.ini") is not None:
        return "pytest"
    if read_repo_text(workspace, ".pytest.ini") is not None:
        return "pytest"
    tool = load_toml(read_repo_text(workspace, "pyproject.toml")).get("tool")
    if isinstance(tool, dict) and "pytest" in tool:
        return "pytest"
    for name, section in (("setup.cfg", "[tool:pytest]"), ("tox.ini", "[pytest]")):
        text = read_repo_text(workspace, name)
        if text is not None and re.search(rf"^{re.escape(section)}\s*$", text, re.MULTILINE):
            return "pytest"
    names = declared_requirement_names(workspace)
    if "pytest" in names or any(name.startswith("pytest-") for name in names):
        return "pytest"
    test_files = []
    for rel in iter_repo_files(workspace):
        name = posixpath.basename(rel)
        if name == "conftest.py":
            return "pytest"
        if _TEST_FILE.match(name):
            test_files.append(rel)
    unittest_only = bool(test_files)
    for rel in test_files[:SCAN_FILES]:
        text = read_repo_text(workspace, rel, limit=256 * 1024)
        if text is None:
            continue  # a link, a FIFO, or too big: it counts neither way
        if _USES_PYTEST.search(text):
            return "pytest"
        unittest_only = unittest_only and bool(_USES_UNITTEST.search(text))
    return "unittest" if unittest_only else "pytest"


def _check_path(path: str) -> str:
    file_part = path.split("::", 1)[0]
    normal = posixpath.normpath(file_part) if file_part else ""
    if (
        not file_part
        or path.startswith(("/", "-", "~"))
        or normal == ".."
        or normal.startswith("../")
        or "\x00" in path
    ):
        raise ConfigError(
            f"test path {path!r} is not inside the repository: give a path relative to its "
            "root, such as tests/test_x.py or tests/test_x.py::test_y"
        )
    return path


def _unittest_targets(workspace: Path, path: str) -> list[str]:
    """unittest names for a path: a file or a pytest-style id becomes a dotted name, a folder
    the test modules in it; a dotted name stays as it is."""
    file_part, _, rest = path.partition("::")
    file_part = posixpath.normpath(file_part)
    if file_part.endswith(".py"):
        dotted = file_part[:-3].replace("/", ".")
        return [".".join([dotted, *rest.split("::")]) if rest else dotted]
    if is_dir(workspace, file_part):  # never through a link: it could list host folders
        prefix = "" if file_part == "." else file_part + "/"
        files = [
            prefix + rel
            for rel in iter_repo_files(workspace / file_part)
            if _TEST_FILE.match(posixpath.basename(rel))
        ]
        return [f[:-3].replace("/", ".") for f in files]
    return [path]


def _needs_start_dir(workspace: Path) -> bool:
    """True when the tests live in `tests/` without `__init__.py`, which plain discovery skips."""
    tests = workspace / "tests"
    return (
        is_dir(workspace, "tests")
        and not (tests / "__init__.py").exists()
        and not any(_TEST_FILE.match(p.name) for p in workspace.glob("*.py"))
    )


def parse_report(
    plan: TestPlan, result: ExecResult, junit_xml: str | None, *, duration: float
) -> TestReport:
    """Per-test results from the JUnit XML where there is some, else from the runner's output.

    A run that failed or timed out without naming a failing test gets one made-up error case
    with the id `<test command>`, so it can never read as green; pytest's exit code 5 (no
    tests collected) gives no cases at all.
    """
    output = "\n".join(part for part in (result.stdout, result.stderr) if part)
    cases: list[TestCase] = []
    if junit_xml:
        cases = parse_junit(junit_xml, known_ids=parse_pytest_text(output))
    if not cases and plan.runner in ("pytest", "command"):
        cases = parse_pytest_text(output)
    if not cases and plan.runner in ("unittest", "command"):
        cases = parse_unittest_text(output)
    no_tests = result.exit_code == 5 and (
        plan.runner == "pytest" or "no tests ran" in output.lower()
    )
    broken = result.timed_out or (result.exit_code != 0 and not no_tests)
    if broken and not any(c.outcome in (Outcome.FAILED, Outcome.ERROR) for c in cases):
        if result.timed_out:
            message = f"the test command timed out after {duration:.0f} s and was killed"
        else:
            last = next((ln for ln in reversed(output.splitlines()) if ln.strip()), "")
            message = f"the test command exited with code {result.exit_code}: {last.strip()}"
        outcome = Outcome.FAILED if plan.runner == "command" else Outcome.ERROR
        cases.append(TestCase(id=SYNTHETIC_ID, outcome=outcome, message=message[:500]))
    elif not cases and plan.runner == "command" and result.exit_code == 0:
        cases.append(TestCase(id=SYNTHETIC_ID, outcome=Outcome.PASSED, duration=duration))
    return TestReport(
        command=plan.command,
        exit_code=result.exit_code,
        duration=duration,
        timed_out=result.timed_out,
        limits=result.limits,
        cases=cases,
        output_tail=output_tail(output),
    )


def output_tail(output: str, *, lines: int = TAIL_LINES, max_bytes: int = TAIL_BYTES) -> str:
    """The last `lines` lines of `output`, cut further to its last `max_bytes` bytes."""
    tail = "\n".join(output.rstrip("\n").splitlines()[-lines:])
    data = tail.encode()
    if len(data) <= max_bytes:
        return tail
    cut = data[-max_bytes:].decode("utf-8", errors="ignore")
    return cut.split("\n", 1)[1] if "\n" in cut else cut
