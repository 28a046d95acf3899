"""Typed requests and results of the sandbox: what ran, what came out, how tests went."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class ExecResult(BaseModel):
    """The outcome of one command run in the sandbox."""

    exit_code: int
    """The command's exit status; 124 when it was killed at its timeout, 128+N for signal N."""
    stdout: str = ""
    stderr: str = ""
    duration: float = 0.0
    """Wall time of the command inside the sandbox, in seconds."""
    timed_out: bool = False
    """True when the command ran past its timeout and its whole process tree was killed."""
    truncated: bool = False
    """True when stdout or stderr was longer than the cap and its middle was cut out."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


class TestCase(BaseModel):
    """One test's result."""

    __test__ = False  # not a pytest test class

    id: str
    """The runner's id for the test, e.g. `tests/test_x.py::test_y`."""
    outcome: Outcome
    duration: float | None = None
    """Seconds, where the runner reports it."""
    message: str = ""
    """The failure or skip message, shortened."""


class TestReport(BaseModel):
    """The per-test result of one run of a repository's test suite."""

    __test__ = False

    command: str
    exit_code: int
    duration: float
    """Wall time of the whole suite, in seconds."""
    timed_out: bool = False
    cases: list[TestCase] = Field(default_factory=list)
    output_tail: str = ""
    """The last lines of the runner's output, for a human or a model to read."""

    def count(self, outcome: Outcome) -> int:
        return sum(1 for case in self.cases if case.outcome is outcome)

    @property
    def passed(self) -> int:
        return self.count(Outcome.PASSED)

    @property
    def failed(self) -> int:
        """Failed and errored tests together: both mean the suite is not green."""
        return self.count(Outcome.FAILED) + self.count(Outcome.ERROR)

    @property
    def skipped(self) -> int:
        return self.count(Outcome.SKIPPED)

    @property
    def all_passed(self) -> bool:
        """True when the suite ran to completion, found tests, and none failed."""
        return not self.timed_out and self.passed > 0 and self.failed == 0

    def summary_line(self) -> str:
        """`N passed, N failed` then `, N skipped` where any: the line CI readers look for."""
        line = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            line += f", {self.skipped} skipped"
        return line
