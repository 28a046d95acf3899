"""`patchbot solve` end to end: the CLI, litellm's real HTTP path to the scripted model, and
real Docker sandboxes for the agent, the baseline and every verification."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.agent.model import ModelConfig
from bot.sandbox.config import SandboxConfig
from bot.solve.request import SolveRequest
from bot.solve.solver import solve
from bot.trace import Trace, read_trace

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]
ROOT = Path(__file__).resolve().parents[2]
EVEN_TEST = "tests/test_stats.py::test_median_of_even_count"


def snapshot(repo: Path) -> dict[str, tuple[str, int, int]]:
    """Every file of the repository, `.git` included: content hash, mode and owner."""
    return {
        str(path.relative_to(repo)): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "",
            path.lstat().st_mode,
            path.lstat().st_uid,
        )
        for path in sorted(repo.rglob("*"))
    }


async def solve_cli(repo: Path, api_base: str, out: Path, *options: str) -> tuple[int, str]:
    if "--model" not in options:
        options = ("--model", "openai/scripted", *options)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "solve",
        "--repo",
        str(repo),
        "--issue-file",
        str(repo / "ISSUE.md"),
        "--api-base",
        api_base,
        "--out",
        str(out),
        *options,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 600)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


@pytest.fixture
def demo_repo(example_repo: Callable[[str], Path]) -> tuple[Path, dict[str, Any]]:
    repo = example_repo("buggy_stats")
    return repo, snapshot(repo)


async def test_a_correct_fix_is_verified_and_applies_to_a_fresh_checkout(
    scripted: Any, demo_repo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    from bot.sandbox.docker import open_sandbox

    repo, before = demo_repo
    server = await scripted("fix_median")
    status, stderr = await solve_cli(repo, server.api_base, tmp_path / "out")
    assert status == 0, stderr
    timed = [line.split(" s  ", 1) for line in stderr.splitlines() if " s  " in line]
    seconds = [float(elapsed) for elapsed, _ in timed]
    assert seconds == sorted(seconds) and len(timed) >= 8, stderr
    assert [text for _, text in timed if text.startswith("step ")] == [
        "step 1  str_replace_editor  view /workspace/stats/__init__.py",
        "step 2  str_replace_editor  str_replace /workspace/stats/__init__.py",
        "step 3  str_replace_editor  str_replace tests/test_stats.py",
        "step 4  run_tests",
        "step 5  finish  median() now averages the two middle values of an even count; added t…",
    ]
    assert "cost unknown" in stderr.splitlines()[-1]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "# Patchbot: Verified patch" in report
    assert f"| `{EVEN_TEST}` | — | passed | proven |" in report

    assert snapshot(repo) == before
    fresh = tmp_path / "fresh"  # no hard links: the sandbox takes ownership of what it mounts
    clone = ["git", "clone", "-q", "--no-hardlinks", str(repo), str(fresh)]
    await asyncio.to_thread(subprocess.run, clone, check=True)
    apply = ["git", "apply", str(tmp_path / "out" / "patch.diff")]
    await asyncio.to_thread(subprocess.run, apply, cwd=fresh, check=True)
    async with open_sandbox(fresh, SandboxConfig()) as sandbox:
        tests = await sandbox.run_tests()
    assert tests.all_passed and tests.passed == 5

    events = list(read_trace(tmp_path / "out" / "trace.jsonl"))
    kinds = {event["kind"] for event in events}
    assert {"baseline", "model_request", "tool_call", "tool_result", "verification"} <= kinds
    responses = [event for event in events if event["kind"] == "model_response"]
    assert len(responses) == 5 and all(event["usage"]["prompt_tokens"] > 0 for event in responses)
    assert events[-1]["kind"] == "solve_stop" and events[-1]["reason"] == "verified"


async def test_a_wrong_fix_is_rejected_retried_and_reported(
    scripted: Any, demo_repo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    repo, before = demo_repo
    server = await scripted("wrong_fix")
    status, stderr = await solve_cli(repo, server.api_base, tmp_path / "out", "--max-attempts", "2")
    assert status == 1, stderr
    report = (tmp_path / "out" / "report.md").read_text()
    assert "`rejected`: attempt 2 of 2 rejected: no test failed without the fix" in report
    assert f"| `{EVEN_TEST}` | — | failed | new_failing |" in report
    feedback = [
        message["content"]
        for request in server.model.requests
        for message in request["messages"]
        if message["role"] == "tool" and "Verification rejected" in message["content"]
    ]
    assert feedback and f"new_failing: {EVEN_TEST}" in feedback[0]
    assert len(server.model.requests) == 5
    assert snapshot(repo) == before


async def test_a_fix_that_breaks_another_test_is_rejected(
    scripted: Any, demo_repo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    repo, before = demo_repo
    server = await scripted("breaks_other")
    status, stderr = await solve_cli(repo, server.api_base, tmp_path / "out", "--max-attempts", "1")
    assert status == 1, stderr
    report = (tmp_path / "out" / "report.md").read_text()
    assert "rejected: 1 broken test(s): tests/test_stats.py::test_mean" in report
    assert "| `tests/test_stats.py::test_mean` | passed | failed | broken |" in report
    assert "-    return sum(values) / len(values)" in (tmp_path / "out" / "patch.diff").read_text()
    assert snapshot(repo) == before


async def test_garbage_tool_calls_are_answered_and_the_run_still_succeeds(
    scripted: Any, demo_repo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    repo, _ = demo_repo
    server = await scripted("garbage")
    status, stderr = await solve_cli(repo, server.api_base, tmp_path / "out")
    assert status == 0, stderr
    events = list(read_trace(tmp_path / "out" / "trace.jsonl"))
    errors = [e["output"] for e in events if e["kind"] == "tool_result" and e.get("error")]
    assert len(errors) == 3
    assert "unknown tool 'grep_files'" in errors[0] and "not valid JSON" in errors[1]


async def test_a_budget_stop_ends_the_run_with_the_cost_in_the_report(
    scripted: Any, demo_repo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    repo, before = demo_repo
    server = await scripted("expensive")
    status, stderr = await solve_cli(
        repo,
        server.api_base,
        tmp_path / "out",
        "--model",
        "openai/gpt-4o-mini",
        "--cost-limit",
        "1.0",
    )
    assert status == 1, stderr
    report = (tmp_path / "out" / "report.md").read_text()
    assert "**Stop reason:** `cost_limit`: cost limit reached ($1.2" in report
    assert len(server.model.requests) == 2
    stop = [e for e in read_trace(tmp_path / "out" / "trace.jsonl") if e["kind"] == "agent_stop"]
    assert stop[0]["reason"] == "cost_limit" and stop[0]["steps"] == 2
    assert snapshot(repo) == before


async def test_an_exhausted_script_is_reported_as_a_model_error(
    scripted: Any, demo_repo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    repo, _ = demo_repo
    server = await scripted("short")
    status, stderr = await solve_cli(repo, server.api_base, tmp_path / "out")
    assert status == 1 and (tmp_path / "out" / "report.md").exists(), stderr
    report = (tmp_path / "out" / "report.md").read_text()
    assert "`model_error`" in report and "trajectory is exhausted after 1 replies" in report


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--model", ""), "no model: pass --model"),
        (("--model", "openai/scripted", "--repo", "/nonexistent"), "not a git repository"),
    ],
)
def test_usage_and_configuration_errors_exit_2(
    tmp_path: Path, options: tuple[str, ...], message: str
) -> None:
    repo = ("--repo", str(tmp_path)) if "--repo" not in options else ()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "solve", *repo, "--issue", "Bug", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATCHBOT_MODEL": ""},
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


async def test_an_agent_cannot_kill_its_own_sandbox(
    scripted: Any, demo_repo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    repo, before = demo_repo
    calls = ["echo '# note' >> stats/__init__.py; kill -9 -1", "echo still alive"]
    script = [
        {"role": "assistant", "content": None, "tool_calls": [_bash(command)]} for command in calls
    ]
    server = await scripted(script)
    with Trace(tmp_path / "trace.jsonl") as trace:
        await solve(_median_request(repo, server.api_base), trace=trace)
    results = [e for e in read_trace(tmp_path / "trace.jsonl") if e["kind"] == "tool_result"]
    assert "still alive" in str(results[1]["output"])
    assert snapshot(repo) == before


async def test_a_sandbox_killed_from_outside_ends_the_run_with_a_result(
    scripted: Any, demo_repo: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    import docker

    from bot.sandbox.launch import LABEL, OWNER_LABEL, owner_label
    from bot.solve.outcome import SolveOutcome

    repo, before = demo_repo
    server = await scripted(
        [{"role": "assistant", "content": None, "tool_calls": [_bash("sleep 60")]}]
    )
    request = _median_request(repo, server.api_base)
    progress: list[str] = []
    with Trace(tmp_path / "trace.jsonl") as trace:
        running = asyncio.create_task(
            solve(request, trace=trace, progress=lambda e: progress.append(e.text))
        )
        while not any(e["kind"] == "tool_call" for e in read_trace(tmp_path / "trace.jsonl")):
            assert not running.done(), running
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        client = docker.from_env()
        mine = {"label": [LABEL, f"{OWNER_LABEL}={owner_label()}"]}
        for container in client.containers.list(filters=mine):
            container.kill()
        result = await running
    assert result.stop_reason is SolveOutcome.SANDBOX_ERROR and not result.verified
    assert "exec server is gone" in result.detail
    assert progress[:2] == ["baseline: running the tests on " + result.base_commit[:12],
                            "baseline: 4 passed, 0 failed"]  # fmt: skip
    assert snapshot(repo) == before


def _median_request(repo: Path, api_base: str) -> SolveRequest:
    """A solve request for the demo repository's median issue, against the scripted model."""
    model = ModelConfig(model="openai/scripted", api_base=api_base)
    return SolveRequest(repo=repo, issue_title="median is wrong", model=model)


def _bash(command: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "bash", "arguments": {"command": command}}}
