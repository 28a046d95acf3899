"""The judge started when a sandbox opens (and after a run that says more will follow): the next
test run is that process, pytest already imported; a command that kills or stops it, or a run
of another test plan, costs only the head start, never the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.sandbox.config import SandboxConfig
from bot.sandbox.docker import DockerSandbox, open_sandbox
from bot.sandbox.models import Outcome

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONFIG = SandboxConfig(test_timeout=60)
PASSED = Outcome.PASSED
PID_TEST = """import os


def test_pid():
    with open("/tmp/ran-in", "w") as out:
        out.write(str(os.getpid()))
    assert os.environ.get("FROM_TOX", "unset") in ("unset", "yes")
"""
JUDGES = (
    "for p in /proc/[0-9]*; do"
    " tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q '^python /opt/patchbot-judge/'"
    " && basename $p; done"
)
"""Prints the pid of each judge process in the sandbox."""


def calc(tmp_path: Path) -> Path:
    workspace = shutil.copytree(EXAMPLES / "calc", tmp_path / "calc")
    (workspace / "tests" / "test_pid.py").write_text(PID_TEST)
    return workspace


async def judges(sandbox: DockerSandbox) -> list[str]:
    return (await sandbox.exec(JUDGES)).stdout.split()


async def ran_in(sandbox: DockerSandbox) -> str:
    return (await sandbox.exec("cat /tmp/ran-in")).stdout


async def test_the_first_test_run_is_the_judge_started_with_the_sandbox(tmp_path: Path) -> None:
    async with open_sandbox(calc(tmp_path), CONFIG) as sandbox:
        waiting = await judges(sandbox)
        assert len(waiting) == 1  # it outlived the command that listed it
        report = await sandbox.run_tests(["tests/test_pid.py"])
        assert [c.id for c in report.cases] == ["tests/test_pid.py::test_pid"], report
        assert await ran_in(sandbox) == waiting[0]
        assert await judges(sandbox) == []
        again = await sandbox.run_tests(more=True)  # started for this run: the whole suite
        assert again.passed == len(again.cases) > 1 and await ran_in(sandbox) != waiting[0]
        (ready,) = await judges(sandbox)  # `more`: the next run's judge waits
        await sandbox.run_tests(["tests/test_pid.py"])
        assert await ran_in(sandbox) == ready


@pytest.mark.parametrize("signal", ["KILL", "STOP"])
async def test_a_judge_a_command_killed_or_stopped_still_gives_a_whole_run(
    tmp_path: Path, signal: str
) -> None:
    async with open_sandbox(calc(tmp_path), CONFIG) as sandbox:
        (waiting,) = await judges(sandbox)
        await sandbox.exec(f"kill -{signal} {waiting}")
        report = await sandbox.run_tests()
    assert not report.timed_out and report.passed == len(report.cases) > 1, report.output_tail


async def test_a_run_of_another_plan_ends_the_judge_started_for_the_first(tmp_path: Path) -> None:
    workspace = calc(tmp_path)
    async with open_sandbox(workspace, CONFIG) as sandbox:
        (waiting,) = await judges(sandbox)
        (workspace / "tox.ini").write_text(
            "[testenv]\nsetenv =\n    FROM_TOX = yes\ncommands = pytest\n"
        )
        report = await sandbox.run_tests(["tests/test_pid.py"])
        assert "FROM_TOX=yes" in report.command and report.passed == 1, report.output_tail
        assert await ran_in(sandbox) != waiting and await judges(sandbox) == []


async def test_a_start_longer_than_a_pipe_holds_reaches_the_judge_whole(tmp_path: Path) -> None:
    """A selection of thousands of tests: the judge reads its start as the exec server writes
    it, and a start cut short would be no JSON, no key, no verdict."""
    async with open_sandbox(calc(tmp_path), CONFIG) as sandbox:
        report = await sandbox.run_tests(["./tests/test_pid.py"] * 4000)  # ~90 kB
    assert not report.timed_out and not report.tampered, report.output_tail
    assert [(c.id, c.outcome) for c in report.cases] == [("tests/test_pid.py::test_pid", PASSED)]
