"""Fixtures of the agent tests: a host-directory sandbox for fast tool tests, and the scripted
model served over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.agent.scripted import ScriptedModel, ScriptedServer, load_trajectory
from bot.sandbox.models import TestReport
from bot.testing.host_sandbox import HostSandbox

HERE = Path(__file__).resolve().parent
TRAJECTORIES = HERE / "trajectories"
PACKAGED_TRAJECTORIES = HERE.parents[1] / "bot" / "agent" / "trajectories"


@pytest.fixture
def host_sandbox(tmp_path: Path) -> HostSandbox:
    root = tmp_path / "workspace"
    root.mkdir()
    return HostSandbox(root, TestReport(command="true", exit_code=0, duration=0.0))


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
