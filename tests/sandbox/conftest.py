"""Run a test plan on the host, as the sandbox would, to parse real runner output."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.models import ExecResult, TestReport
from bot.sandbox.testrun import TestPlan, parse_report

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

RunPlan = Callable[..., tuple[TestReport, ExecResult, str | None]]


@pytest.fixture
def copy_example(tmp_path: Path) -> Callable[[str], Path]:
    """Copy `tests/examples/NAME` into a temporary directory (no git needed here)."""

    def copy(name: str) -> Path:
        return Path(shutil.copytree(EXAMPLES / name, tmp_path / "repos" / name))

    return copy


@pytest.fixture
def run_plan(tmp_path: Path) -> RunPlan:
    """Run a plan's command with the host's Python in `workspace`, as the sandbox runs it in
    /workspace, and parse the result. Returns (report, raw result, JUnit XML or None)."""

    def run(
        plan: TestPlan,
        workspace: Path,
        *,
        pythonpath: tuple[str, ...] = ("src", "."),
        timeout: float | None = None,
    ) -> tuple[TestReport, ExecResult, str | None]:
        junit = tmp_path / "junit.xml"
        junit.unlink(missing_ok=True)
        command = plan.command.replace("python -m", f"{shlex.quote(sys.executable)} -m", 1)
        if plan.junit_path:
            command = command.replace(plan.junit_path, str(junit))
        env = dict(os.environ)
        env.pop("CI", None)  # pytest prints full messages under CI; test the terminal default
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # our own plugins are not the repo's
        env["PYTHONPATH"] = ":".join(str(workspace / p) for p in pythonpath)
        env["COLUMNS"] = "80"
        started = time.monotonic()
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            stdout, stderr = process.communicate()
            timed_out = True
        duration = time.monotonic() - started
        result = ExecResult(
            exit_code=124 if timed_out else process.returncode,
            stdout=stdout,
            stderr=stderr,
            duration=duration,
            timed_out=timed_out,
        )
        xml = junit.read_text() if plan.junit_path and junit.exists() else None
        return parse_report(plan, result, xml, duration=duration), result, xml

    return run
