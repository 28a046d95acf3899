"""Typed requests and results of the sandbox: what ran, what came out, how tests went."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from bot.sandbox.config import SandboxConfig


class Limit(StrEnum):
    """A sandbox limit a command can run into."""

    TIME = "time"
    """It ran past its timeout and was killed."""
    OUTPUT = "output"
    """It printed more than the output cap; the middle was cut out."""
    MEMORY = "memory"
    """The out-of-memory killer ended one of its processes."""
    PIDS = "pids"
    """It tried to run more processes than the limit allows; a fork failed."""
    DISK = "disk"
    """It left a writable filesystem (`/workspace`, `/tmp`, `/env`) full."""


FAILING_LIMITS = (Limit.TIME, Limit.MEMORY, Limit.PIDS)
"""Limits that killed or refused one of a command's processes: it did not run as written."""


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
    limits: list[Limit] = Field(default_factory=list)
    """The limits the command ran into; each is also named in a `[patchbot: ...]` line at the
    end of stderr, for a model or a human reading the output."""

    @property
    def ok(self) -> bool:
        """Exit status 0, and no limit killed or refused one of its processes."""
        failing = any(limit in FAILING_LIMITS for limit in self.limits)
        return self.exit_code == 0 and not self.timed_out and not failing


def exec_result(answer: Mapping[str, Any], config: SandboxConfig, timeout: float) -> ExecResult:
    """The exec server's answer to a command run with `timeout` under `config`, each limit it
    ran into named, with its value, in a line at the end of stderr."""
    result = ExecResult.model_validate(answer)
    for limit in result.limits:
        result.stderr += f"\n[patchbot: {_note(limit, answer, config, timeout)}]"
    return result


def _note(limit: Limit, answer: Mapping[str, Any], config: SandboxConfig, timeout: float) -> str:
    if limit is Limit.TIME:
        return f"killed after the {timeout:g} s timeout"
    if limit is Limit.MEMORY:
        return f"killed: out of memory (limit {config.memory_mb} MiB)"
    if limit is Limit.PIDS:
        return f"a process could not start: the limit of {config.pids_limit} processes was reached"
    if limit is Limit.OUTPUT:
        return "output over the cap: its middle was cut out"
    sizes = {"/workspace": config.disk_mb, "/env": config.env_disk_mb, "/tmp": config.tmpfs_mb}
    if full := answer.get("full"):
        return "; ".join(f"{path} is full (limit {sizes.get(path)} MiB)" for path in full)
    limits = ", ".join(f"{path} {size} MiB" for path, size in sizes.items())
    return f"a write found no space left on device (disk limits: {limits})"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"


FAILING = (Outcome.FAILED, Outcome.ERROR)
"""Outcomes that mean a test did not pass for a reason of its own (not skipped)."""


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
    limits: list[Limit] = Field(default_factory=list)
    """The sandbox limits the test command ran into (see `ExecResult.limits`)."""
    cases: list[TestCase] = Field(default_factory=list)
    output_tail: str = ""
    """The last lines of the runner's output, for a human or a model to read."""
    tampered: list[str] = Field(default_factory=list)
    """Why the judge's records of this run cannot be trusted (forged, cut short, hooks
    registered while the tests ran); empty when judged cleanly or run without the judge."""

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
