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
from bot.repo_files import is_dir, iter_repo_files
from bot.sandbox.judged import JudgeRecords
from bot.sandbox.models import ExecResult, Outcome, TestCase, TestReport
from bot.sandbox.report_parsing import parse_junit, parse_pytest_text, parse_unittest_text
from bot.setup.detect import TEST_FILE
from bot.setup.planner import find_test_command

JUNIT_PATH = "/tmp/patchbot-junit.xml"
PYTEST_OPTIONS = "-p no:cacheprovider -q -rA"
"""pytest's options in our runs, the judge's too: no cache written into the checkout, and every
test's outcome in the output."""
PYTEST = f"python -m pytest {PYTEST_OPTIONS} --junitxml={JUNIT_PATH}"
UNITTEST = "python -m unittest"
SYNTHETIC_ID = "<test command>"
"""The id of the one case made up from the exit code when the output names no test."""
TAIL_LINES = 60
TAIL_BYTES = 8 * 1024
UNSAFE_ENV = frozenset(
    {"PATH", "HOME", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP",
     "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "LD_PRELOAD", "LD_LIBRARY_PATH"}
)  # fmt: skip
"""Variables a repository's test configuration may not set for our runner: they would change
which code runs the tests or how their report is written."""


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
    env: dict[str, str] = {}
    """Variables the repository's test configuration sets for the run (at the command's start)."""
    args: list[str] = []
    """pytest: the tests selected (at the command's end)."""


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
    found = find_test_command(workspace)
    env = {
        key: value
        for key, value in found.env.items()
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key)
        and key not in UNSAFE_ENV
        and not key.startswith("COVERAGE_")
    }
    prefix = "".join(f"{key}={shlex.quote(value)} " for key, value in env.items())
    if found.runner == "pytest":
        args = checked or found.args
        command = prefix + " ".join([PYTEST, *(shlex.quote(arg) for arg in args)])
        return TestPlan(
            runner="pytest", command=command, junit_path=JUNIT_PATH, env=env, args=list(args)
        )
    targets = [t for path in checked for t in _unittest_targets(workspace, path)]
    if targets:
        command = " ".join([UNITTEST, "-v", *(shlex.quote(t) for t in targets)])
    elif found.args[:1] == ["discover"]:
        command = " ".join([UNITTEST, "discover", "-v", *(shlex.quote(a) for a in found.args[1:])])
    elif found.args:
        command = " ".join([UNITTEST, "-v", *(shlex.quote(a) for a in found.args)])
    elif _needs_start_dir(workspace):
        command = f"{UNITTEST} discover -v -s tests"
    else:
        command = f"{UNITTEST} discover -v"
    return TestPlan(runner="unittest", command=prefix + command, junit_path=None, env=env)


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
            if TEST_FILE.match(posixpath.basename(rel))
        ]
        return [f[:-3].replace("/", ".") for f in files]
    return [path]


def _needs_start_dir(workspace: Path) -> bool:
    """True when the tests live in `tests/` without `__init__.py`, which plain discovery skips."""
    tests = workspace / "tests"
    return (
        is_dir(workspace, "tests")
        and not (tests / "__init__.py").exists()
        and not any(TEST_FILE.match(p.name) for p in workspace.glob("*.py"))
    )


def parse_report(
    plan: TestPlan,
    result: ExecResult,
    junit_xml: str | None,
    *,
    duration: float,
    judged: JudgeRecords | None = None,
) -> TestReport:
    """Per-test results from the judge's signed records where the judge ran (`judged`), else
    from the JUnit XML where there is some, else from the runner's output. Records the judge
    cannot vouch for give no cases: the run reads as one error, with the reason in `tampered`.

    A run that failed or timed out without naming a failing test gets one made-up error case
    with the id `<test command>`, so it can never read as green; pytest's exit code 5 (no
    tests collected) gives no cases at all.
    """
    output = "\n".join(part for part in (result.stdout, result.stderr) if part)
    cases: list[TestCase] = []
    tampered: list[str] = []
    if judged is not None and result.timed_out:  # cut short by the timeout, not forged
        cases = judged.cases
    elif judged is not None:
        tampered = [judged.problem] if judged.problem else judged.tampered
        cases = [] if judged.problem else judged.cases
    elif junit_xml:
        cases = parse_junit(junit_xml, known_ids=parse_pytest_text(output))
    if judged is None and not cases and plan.runner in ("pytest", "command"):
        cases = parse_pytest_text(output)
    if not cases and plan.runner in ("unittest", "command"):
        cases = parse_unittest_text(output)
    no_tests = result.exit_code == 5 and (
        plan.runner == "pytest" or "no tests ran" in output.lower()
    )
    broken = result.timed_out or (result.exit_code != 0 and not no_tests) or bool(tampered)
    if tampered and not result.timed_out:
        cases.append(TestCase(id=SYNTHETIC_ID, outcome=Outcome.ERROR, message=tampered[0][:500]))
    elif broken and not any(c.outcome in (Outcome.FAILED, Outcome.ERROR) for c in cases):
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
        tampered=tampered,
    )


def output_tail(output: str, *, lines: int = TAIL_LINES, max_bytes: int = TAIL_BYTES) -> str:
    """The last `lines` lines of `output`, cut further to its last `max_bytes` bytes."""
    tail = "\n".join(output.rstrip("\n").splitlines()[-lines:])
    data = tail.encode()
    if len(data) <= max_bytes:
        return tail
    cut = data[-max_bytes:].decode("utf-8", errors="ignore")
    return cut.split("\n", 1)[1] if "\n" in cut else cut
