"""A sandbox that is only a folder on the host: commands run there with no isolation at all.

For fast tests of what surrounds the sandbox (the agent's tools, the run pipeline's decisions)
on our own example repositories, never on code we did not write. `/workspace` in a command is
rewritten to the folder, so the tools' real commands run unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path

from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import ExecResult, TestReport
from bot.sandbox.protocol import OutputSink, Sandbox
from bot.sandbox.testrun import TestPlan, parse_report
from bot.setup.paths import WORKSPACE


class HostSandbox(Sandbox):
    """Runs commands in `root` on the host. `run_tests` runs pytest there with this Python, or
    returns `report` when one is given (for tests of the tools alone)."""

    def __init__(
        self, root: Path, report: TestReport | None = None, config: SandboxConfig | None = None
    ) -> None:
        self.root = root
        self.report = report
        self._config = config
        self.commands: list[str] = []
        self.test_runs: list[list[str]] = []

    @property
    def config(self) -> SandboxConfig | None:
        return self._config

    async def exec(
        self,
        command: str,
        *,
        timeout: float | None = None,
        workdir: str = WORKSPACE,
        on_output: OutputSink | None = None,
    ) -> ExecResult:
        self.commands.append(command)
        command = command.replace(WORKSPACE, str(self.root))
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            command,
            cwd=workdir.replace(WORKSPACE, str(self.root)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            return ExecResult(exit_code=124, timed_out=True, duration=time.monotonic() - started)
        return ExecResult(
            exit_code=process.returncode or 0,
            stdout=out.decode(errors="replace"),
            stderr=err.decode(errors="replace"),
            duration=time.monotonic() - started,
        )

    async def run_tests(
        self,
        paths: Sequence[str] = (),
        *,
        timeout: float | None = None,
        reruns: int = 0,
        more: bool = False,
    ) -> TestReport:
        self.test_runs.append(list(paths))
        if self.report is not None:
            return self.report
        python = shlex.quote(sys.executable)
        targets = " ".join(shlex.quote(path) for path in paths)
        command = f"{python} -m pytest -p no:cacheprovider -q -rA {targets}".strip()
        result = await self.exec(command, timeout=timeout or 120)
        plan = TestPlan(runner="command", command=command, junit_path=None)
        return parse_report(plan, result, None, duration=result.duration)


@contextlib.asynccontextmanager
async def host_sandbox(
    workspace: Path, config: SandboxConfig, *, edited: Awaitable[None] | None = None
) -> AsyncIterator[Sandbox]:
    """A `SandboxOpener` for the pipeline's fast tests: the run's checkout copy as it is."""
    if edited is not None:
        await edited
    yield HostSandbox(workspace, config=config)
