"""The gates a run's verified patch meets judge what the run actually got, not what the
policy asked for: a sandbox gate fed the policy's own settings could never deny."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from bot.pipeline.steps import RunSteps
from bot.policy.decisions import Usage
from bot.policy.model import Policy
from bot.runs.models import Run, RunState
from bot.runs.pipeline import RunContext
from bot.sandbox.config import SandboxConfig, sandbox_config
from bot.settings import Settings
from bot.solve.outcome import SolveOutcome, SolveResult
from bot.solve.solver import docker_sandbox
from bot.trace import Trace


def steps(tmp_path: Path) -> RunSteps:
    run = Run(
        id=1, state=RunState.RUNNING, repository="octo/calc", issue=7, requester="alice",
        trigger="label", created_at=0.0, updated_at=0.0,
    )  # fmt: skip
    settings = Settings.from_env({"PATCHBOT_DATA_DIR": str(tmp_path / "data")})
    context = RunContext(Trace(tmp_path / "trace.jsonl"), cast(Any, None), settings, "w1")
    return RunSteps(run, context, cast(Any, None), cast(Any, None), Policy(), docker_sandbox)


def verified(sandbox: SandboxConfig | None) -> SolveResult:
    return SolveResult(
        stop_reason=SolveOutcome.VERIFIED, detail="", patch="", base_commit="0" * 40,
        sandbox=sandbox,
    )  # fmt: skip


def test_the_sandbox_gate_judges_the_sandbox_the_run_got(tmp_path: Path) -> None:
    policy = Policy.model_validate({"sandbox": {"memory_mb": 1024, "setup_network": False}})
    asked = sandbox_config(policy)
    got = asked.model_copy(update={"memory_mb": 4096, "setup_network": True})
    gates = steps(tmp_path).final_gates(policy, verified(got), Usage(), tmp_path)
    sandbox = next(d for d in gates.decisions if d.gate == "sandbox")
    assert sandbox.verdict == "deny"
    assert "memory_mb 4096 > 1024" in sandbox.reason and "network" in sandbox.reason
    same = steps(tmp_path).final_gates(policy, verified(asked), Usage(), tmp_path)
    assert next(d for d in same.decisions if d.gate == "sandbox").verdict == "allow"


def test_a_run_whose_sandbox_is_not_known_is_denied(tmp_path: Path) -> None:
    gates = steps(tmp_path).final_gates(Policy(), verified(None), Usage(), tmp_path)
    assert gates.verdict == "deny"
    assert "sandbox is not known" in next(d for d in gates.decisions if d.gate == "sandbox").reason


def test_an_image_the_policy_allows_for_another_python_passes(tmp_path: Path) -> None:
    policy = Policy.model_validate({"sandbox": {"images": ["python", "python3.9"]}})
    chosen = sandbox_config(policy).model_copy(update={"image": "python3.9"})
    gates = steps(tmp_path).final_gates(policy, verified(chosen), Usage(), tmp_path)
    assert next(d for d in gates.decisions if d.gate == "sandbox").verdict == "allow"
    other = chosen.model_copy(update={"image": "python3.13"})
    gates = steps(tmp_path).final_gates(policy, verified(other), Usage(), tmp_path)
    assert next(d for d in gates.decisions if d.gate == "sandbox").verdict == "deny"
