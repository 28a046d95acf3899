"""Fixtures of the agent tests: a host-directory sandbox for fast tool tests, and the scripted
model served over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.agent.scripted import ScriptedModel, ScriptedServer, load_trajectory
from bot.sandbox.models import ExecResult, TestReport
from bot.sandbox.protocol import OutputSink, Sandbox
from bot.setup.paths import WORKSPACE

HERE = Path(__file__).resolve().parent
TRAJECTORIES = HERE / "trajectories"
PACKAGED_TRAJECTORIES = HERE.parents[1] / "bot" / "agent" / "trajectories"


class HostSandbox(Sandbox):
    """Runs commands on the host in a temporary directory standing in for /workspace.

    For fast tests of the tools only: no isolation at all. `/workspace` in a command is
    rewritten to the directory, so the editor's real commands run unchanged.
    """

    def __init__(self, root: Path, report: TestReport | None = None) -> None:
        self.root = root
        self.report = report or TestReport(command="true", exit_code=0, duration=0.0)
        self.commands: list[str] = []
        self.test_runs: list[list[str]] = []

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
        self, paths: Sequence[str] = (), *, timeout: float | None = None, reruns: int = 0
    ) -> TestReport:
        self.test_runs.append(list(paths))
        return self.report


@pytest.fixture
def host_sandbox(tmp_path: Path) -> HostSandbox:
    root = tmp_path / "workspace"
    root.mkdir()
    return HostSandbox(root)


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[..., Any]]:
    """Start a scripted model on 127.0.0.1 from a trajectory name or a list of messages."""
    servers: list[ScriptedServer] = []

    async def start(script: str | list[dict[str, Any]]) -> ScriptedServer:
        if isinstance(script, str):
            path = TRAJECTORIES / f"{script}.jsonl"
            if not path.exists():
                path = PACKAGED_TRAJECTORIES / f"{script}.jsonl"
            messages = load_trajectory(path)
        else:
            messages = script
        server = ScriptedServer(ScriptedModel(messages))
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()
