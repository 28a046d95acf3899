"""Which sandboxes a solve run opens: the baseline runs in the agent's own sandbox, before the
agent's first command; a baseline on another commit has a sandbox of its own; verification's
open on the base, each once."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

from bot.agent.model import ModelConfig, ModelReply, Usage
from bot.sandbox.config import SandboxConfig
from bot.sandbox.protocol import Sandbox
from bot.solve.outcome import SolveOutcome
from bot.solve.request import SolveRequest
from bot.solve.solver import solve
from bot.testing.host_sandbox import HostSandbox
from bot.trace import Trace

TEST = "def test_one():\n    assert True\n"


class Finisher:
    """A model that finishes at once, having looked at nothing."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    async def complete(self, messages: list[dict[str, Any]], tools: Any) -> ModelReply:
        self.seen.append("model")
        call = {"name": "finish", "arguments": '{"summary": "nothing to do"}'}
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call-1", "type": "function", "function": call}],
        }
        return ModelReply(message=message, usage=Usage(), latency=0.0)


def recording(seen: list[str]) -> Any:
    """A `SandboxOpener` on the host that notes each sandbox opened (by its checkout's folder)
    and each test run in it."""

    @contextlib.asynccontextmanager
    async def opener(
        workspace: Path, config: SandboxConfig, *, edited: Awaitable[None] | None = None
    ) -> AsyncIterator[Sandbox]:
        seen.append(f"open {workspace.name}")
        if edited is not None:
            await edited
        sandbox = HostSandbox(workspace, config=config)
        run_tests = sandbox.run_tests

        async def noted(*args: Any, **kwargs: Any) -> Any:
            seen.append(f"tests in {workspace.name}")
            return await run_tests(*args, **kwargs)

        sandbox.run_tests = noted  # type: ignore[method-assign]
        yield sandbox

    return opener


def repository(path: Path) -> tuple[Path, str, str]:
    """A repository of two commits; its first commit and its HEAD."""
    (path / "tests").mkdir(parents=True)
    (path / "tests" / "test_one.py").write_text(TEST)

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    first = git("rev-parse", "HEAD")
    (path / "tests" / "test_two.py").write_text(TEST.replace("one", "two"))
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "second")
    return path, first, git("rev-parse", "HEAD")


async def solved(tmp_path: Path, *, on_first: bool) -> list[str]:
    """What a solve run of `repository` opened and ran, in order; with `on_first`, its
    baseline on the first commit (HEAD's parent)."""
    repo, first, _ = repository(tmp_path / "repo")
    seen: list[str] = []
    request = SolveRequest(
        repo=repo,
        issue_title="Nothing",
        baseline_commit=first if on_first else None,
        model=ModelConfig(model="openai/unused"),
        work_dir=tmp_path,
    )
    with Trace(tmp_path / "trace.jsonl") as trace:
        opener, model = recording(seen), Finisher(seen)
        result = await solve(request, trace=trace, open_sandbox=opener, model=model)
    assert result.stop_reason is SolveOutcome.REJECTED, result.detail  # no changes: rejected
    return seen


async def test_the_baseline_runs_in_the_agents_sandbox_before_the_agent_starts(
    tmp_path: Path,
) -> None:
    seen = await solved(tmp_path, on_first=False)
    assert [event for event in seen if "work" in event or event == "model"][:3] == [
        "open work",
        "tests in work",
        "model",
    ]
    opened = [event for event in seen if event.startswith("open")]
    assert len(opened) == len(set(opened))  # each once: the second attempt has its own
    assert {"open candidate-1", "open candidate-1-without-fix", "open work"} <= set(opened)


async def test_a_baseline_on_another_commit_has_a_sandbox_of_its_own(tmp_path: Path) -> None:
    seen = await solved(tmp_path, on_first=True)
    assert seen[0] == "open baseline" and set(seen[1:3]) == {"open work", "tests in baseline"}
    assert "tests in work" not in seen[: seen.index("model")]
