"""Running mined tasks end to end (real sandboxes, litellm's HTTP path to the scripted model):
the oracle is accepted and resolved, tests alone are never resolved, nothing from after the
base reaches the agent, and a killed evaluation resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bot.agent.model import ModelConfig
from bot.agent.scripted import ScriptedModel, ScriptedServer
from bot.eval.run import RunOptions, evaluate
from bot.eval.tasks import read_jsonl, read_tasks
from bot.policy.load import default_policy_path
from bot.solve.solver import docker_sandbox
from bot.trace import Redactor, read_trace
from tests.eval.history import LATER_FILE

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
Mined = tuple[Path, dict[str, str], Path, list[str]]


async def run(
    tasks: Path, out: Path, model: str, configured: ModelConfig | None = None
) -> dict[str, Any]:
    options = RunOptions(out=out, model=model, concurrency=2)
    return await evaluate(
        options,
        tasks,
        policy_path=default_policy_path(),
        configured=configured,
        redactor=Redactor(),
        opener=docker_sandbox,
        say=lambda line: None,
    )


async def test_the_oracle_is_accepted_and_resolved_on_every_task(
    mined: Mined, tmp_path: Path
) -> None:
    _, _, tasks, _ = mined
    summary = await run(tasks, tmp_path / "oracle", "oracle")
    assert (summary["tasks"], summary["resolved"], summary["accepted"]) == (2, 2, 2)
    assert summary["accepted_unresolved"] == summary["refused_resolved"] == 0
    assert summary["cost_usd"] is None  # the scripted model has no price: unknown, not free
    keys = set()
    for row in summary["rows"]:
        assert row["stop_reason"] == "verified" and row["patch_lines"] > 0, row
        events = read_trace(tmp_path / "oracle" / row["trace"])
        keys |= {event["cache_key"] for event in events if event["kind"] == "setup"}
    # The same dependency files, but two bases: neither run may get the other's environment.
    assert len(keys) == 2
    report = (tmp_path / "oracle" / "report.md").read_text()
    assert "| PR opened, resolved | 2 |" in report


async def test_tests_alone_are_never_resolved(mined: Mined, tmp_path: Path) -> None:
    _, _, tasks, _ = mined
    summary = await run(tasks, tmp_path / "tests-only", "tests-only")
    assert summary["resolved"] == 0 and summary["runs"] == 2
    # Today's judge refuses both: one breaks a test it changes, one fails to collect.
    assert summary["accepted"] == 0 and summary["refused_unresolved"] == 2
    assert all(row["failing"] for row in summary["rows"])


async def test_nothing_from_after_the_base_commit_reaches_the_agent(
    mined: Mined, tmp_path: Path
) -> None:
    _, made, tasks_file, _ = mined
    [task] = [task for task in read_tasks(tasks_file) if task.commit == made["fix"]]
    one = tmp_path / "one.jsonl"
    one.write_text(task.model_dump_json() + "\n")
    probes = [
        f"cd /workspace && git cat-file -t {made['fix']} || echo MISSING",
        "cd /workspace && git rev-list --all --objects | wc -l && git log --all --format=%H "
        f"&& git tag && ls -a && (test -e {LATER_FILE} && echo HAS_LATER || echo NO_LATER)",
    ]
    script = [
        {"tool_calls": [{"function": {"name": "bash", "arguments": {"command": probe}}}]}
        for probe in probes
    ]
    script += [{"tool_calls": [{"function": {"name": "finish", "arguments": {"summary": "-"}}}]}]
    script *= 3  # each attempt looks again
    async with ScriptedServer(ScriptedModel(script)) as server:
        configured = ModelConfig(model="openai/scripted", api_base=server.api_base)
        summary = await run(one, tmp_path / "leak", "openai/scripted", configured)
    [row] = summary["rows"]
    outputs = [
        event["output"]
        for event in read_trace(tmp_path / "leak" / row["trace"])
        if event["kind"] == "tool_result" and event["name"] == "bash"
    ]
    assert "MISSING" in outputs[0] and "commit" not in outputs[0].split()
    listing = outputs[1]
    shas = [word for word in listing.split() if len(word) == 40]
    assert len(shas) == 1 and shas[0] not in made.values()  # one commit, none of the original
    assert "NO_LATER" in listing and "HAS_LATER" not in listing and "README.md" in listing
    for later in ("feature", "refactor", "later"):
        assert made[later] not in "".join(outputs)


def _cli(tasks: Path, out: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bot", "eval", "run", str(tasks), "--model", "oracle"]
    return subprocess.Popen(
        [*command, "--out", str(out), "--concurrency", "1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def test_a_killed_evaluation_resumes_with_the_runs_it_had_not_finished(
    mined: Mined, tmp_path: Path
) -> None:
    _, _, tasks, _ = mined
    out = tmp_path / "killed"
    results = out / "results.jsonl"
    process = _cli(tasks, out)
    deadline = time.monotonic() + 300
    while not list(read_jsonl(results)) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # mid-run: the second task has started
    process.wait()
    first = results.read_text()
    assert len(first.splitlines()) == 1 and not (out / "results.json").exists()

    again = _cli(tasks, out)
    _, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr.decode()
    assert "resuming: 1 of 2 runs done before" in stderr.decode()
    assert results.read_text().startswith(first)  # the finished run was not run again
    summary = json.loads((out / "results.json").read_text())
    assert sorted(row["instance_id"] for row in summary["rows"]) == sorted(
        task.instance_id for task in read_tasks(tasks)
    )
    assert summary["resolved"] == summary["accepted"] == 2


def test_a_folder_is_resumed_only_with_the_run_it_holds(mined: Mined, tmp_path: Path) -> None:
    _, _, tasks, _ = mined
    out = tmp_path / "other"
    out.mkdir()
    (out / "run.json").write_text(
        json.dumps(
            {
                "model": "oracle",
                "policy": str(default_policy_path()),
                "tasks_file": str(tasks.resolve()),
                "attempts": 1,
                "patchbot_version": "0",
                "started_at": "then",
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot", "eval", "run", str(tasks), "--model", "tests-only",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "holds a run with model 'oracle', not 'tests-only'" in done.stderr
