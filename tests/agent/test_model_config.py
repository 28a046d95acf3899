"""Every entry point builds its model settings one way (`configured_model`): a command's flags,
else PATCHBOT_MODEL, PATCHBOT_MODEL_API_BASE and PATCHBOT_MODEL_API_KEY. Requests reach the
configured base with the configured key, and nowhere else: `patchbot solve` and a real
`patchbot worker`, each with a trap server where the provider's own variables point."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.agent.model import configured_model, missing_model_setting
from bot.agent.scripted import ScriptedModel, ScriptedServer, load_trajectory
from bot.errors import ConfigError
from bot.runs.models import RunState
from bot.settings import Settings
from bot.testing.processes import stopped_at_exit
from bot.testing.stack import MAINTAINER, LocalStack

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "examples" / "buggy_stats"
FIX_MEDIAN = ROOT / "bot" / "agent" / "trajectories" / "fix_median.jsonl"
KEY = "sk-patchbot-configured-0123456789"
TRAP_KEY = "sk-provider-variable-9876543210"


def test_the_environment_gives_model_base_and_key() -> None:
    settings = Settings.from_env(
        {
            "PATCHBOT_MODEL": "openai/gpt-4o",
            "PATCHBOT_MODEL_API_BASE": "http://127.0.0.1:8001/v1/",
            "PATCHBOT_MODEL_API_KEY": KEY,
        }
    )
    config = configured_model(settings)
    assert (config.model, config.api_base) == ("openai/gpt-4o", "http://127.0.0.1:8001/v1")
    assert config.api_key is not None and config.api_key.get_secret_value() == KEY


def test_flags_win_over_the_environment_and_the_key_still_comes_from_it() -> None:
    settings = Settings.from_env(
        {"PATCHBOT_MODEL_API_BASE": "http://proxy.internal/v1", "PATCHBOT_MODEL_API_KEY": KEY}
    )
    config = configured_model(settings, model="openai/scripted", api_base="http://127.0.0.1:9/v1")
    assert (config.model, config.api_base) == ("openai/scripted", "http://127.0.0.1:9/v1")
    assert config.api_key is not None and config.api_key.get_secret_value() == KEY
    default = configured_model(Settings.from_env({}))
    assert (default.model, default.api_base, default.api_key) == (
        "anthropic/claude-sonnet-4-5",
        None,
        None,
    )


def test_an_empty_model_or_a_bad_api_base_names_the_fix() -> None:
    settings = Settings.from_env({})
    with pytest.raises(ConfigError, match="no model: pass --model"):
        configured_model(settings, model=" ")
    with pytest.raises(ConfigError, match="--api-base localhost:8001: must be an http"):
        configured_model(settings, api_base="localhost:8001")


def test_a_model_without_a_key_is_named_with_the_variables_that_fix_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    keyless = configured_model(Settings.from_env({}))
    problem = missing_model_setting(keyless)
    assert problem is not None
    assert "PATCHBOT_MODEL_API_KEY or ANTHROPIC_API_KEY" in problem
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-the-provider-variable")
    assert missing_model_setting(keyless) is None
    local = Settings.from_env(
        {"PATCHBOT_MODEL": "openai/x", "PATCHBOT_MODEL_API_BASE": "http://h/v1"}
    )
    assert missing_model_setting(configured_model(local)) is None
    unknown = missing_model_setting(configured_model(Settings.from_env({"PATCHBOT_MODEL": "gpt5"})))
    assert unknown is not None and "knows no provider for model 'gpt5'" in unknown


def own_environment(**extra: str) -> dict[str, str]:
    """This process's environment without any model or deployment setting, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PATCHBOT_", "OPENAI_", "ANTHROPIC_", "APP_ID", "PRIVATE_KEY"))
        and key not in ("DATABASE_URL", "WEBHOOK_SECRET", "GITHUB_API_URL", "LOG_LEVEL")
    }
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


@pytest.fixture
async def trap() -> AsyncIterator[ScriptedServer]:
    """A model server that must get no request: the provider's own variables point at it."""
    async with ScriptedServer(ScriptedModel([])) as server:
        yield server


def trap_variables(trap: ScriptedServer) -> dict[str, str]:
    return {"OPENAI_API_BASE": trap.api_base, "OPENAI_BASE_URL": trap.api_base,
            "OPENAI_API_KEY": TRAP_KEY}  # fmt: skip


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.usefixtures("docker_ready")
async def test_solve_sends_every_request_to_the_configured_base_with_the_configured_key(
    example_repo: Callable[[str], Path], trap: ScriptedServer, tmp_path: Path
) -> None:
    repo = example_repo("buggy_stats")
    async with ScriptedServer(ScriptedModel(load_trajectory(FIX_MEDIAN))) as model:
        env = own_environment(
            PATCHBOT_MODEL="openai/scripted",
            PATCHBOT_MODEL_API_BASE=model.api_base,
            PATCHBOT_MODEL_API_KEY=KEY,
            **trap_variables(trap),
        )
        issue, out = str(repo / "ISSUE.md"), str(tmp_path / "out")
        command = [sys.executable, "-m", "bot", "solve", "--repo", str(repo), "--quiet",
                   "--issue-file", issue, "--out", out]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 600)
    assert process.returncode == 0, stderr.decode()
    assert model.model.remaining == 0
    assert set(model.model.authorizations) == {f"Bearer {KEY}"}
    assert trap.model.requests == []
    assert KEY not in (tmp_path / "out" / "trace.jsonl").read_text()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`patchbot worker` running the GitHub pipeline, its output in `log`."""
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "worker", "--name", "configured"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.usefixtures("docker_ready")
async def test_a_worker_sends_every_request_to_the_configured_base_with_the_configured_key(
    trap: ScriptedServer, tmp_path: Path
) -> None:
    trajectory = load_trajectory(FIX_MEDIAN)
    setting = {"PATCHBOT_MODEL_API_KEY": KEY}
    async with LocalStack(tmp_path / "stack", trajectory, workers=0, environment=setting) as stack:
        title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
        issue = await stack.seed("octo/stats", EXAMPLE, title.strip(), body.strip())
        env = own_environment(**stack.environment(), **trap_variables(trap))
        with stopped_at_exit(start_worker(env, tmp_path / "worker.log"), grace=15):
            await stack.github.label_issue("octo/stats", issue, "patchbot", by=MAINTAINER)
            run = await stack.finished_run("octo/stats", issue, timeout=240)
    assert run.state is RunState.SUCCEEDED, (tmp_path / "worker.log").read_text()[-3000:]
    assert stack.model.model.remaining == 0
    assert set(stack.model.model.authorizations) == {f"Bearer {KEY}"}
    assert trap.model.requests == []
