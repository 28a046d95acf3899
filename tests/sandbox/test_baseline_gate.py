"""The baseline is a gate: a suite that does not collect, or collects no test, stops the run
before the first model call, and says what was tried and what to configure."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.agent.model import ModelConfig
from bot.agent.scripted import ScriptedModel, ScriptedServer
from bot.solve.outcome import SolveOutcome
from bot.solve.report import render_report
from bot.solve.request import SolveRequest
from bot.solve.solver import solve
from bot.trace import Trace, read_trace
from tests.conftest import git

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]


def repository(root: Path, files: dict[str, str]) -> Path:
    """A git repository holding `files` (path -> text) in one commit."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        git(root, *args)
    return root


@pytest.mark.parametrize(
    ("files", "said"),
    [
        (
            {"pytest.ini": "[pytest]\n", "tests/test_none.py": "VALUE = 1\n"},
            "found no tests",
        ),
        (
            {
                "pytest.ini": "[pytest]\n",
                "tests/test_a.py": "import patchbot_no_such_module_0000\ndef test_a(): pass\n",
            },
            "patchbot_no_such_module_0000",
        ),
    ],
    ids=["no-tests", "collection-error"],
)
async def test_a_suite_that_cannot_judge_costs_no_model_call(
    tmp_path: Path, files: dict[str, str], said: str
) -> None:
    repo = repository(tmp_path / "repo", files)
    async with ScriptedServer(ScriptedModel([])) as server:  # any call would fail loudly
        request = SolveRequest(
            repo=repo,
            issue_title="Something is wrong",
            model=ModelConfig(model="openai/scripted", api_base=server.api_base),
        )
        with Trace(tmp_path / "trace.jsonl") as trace:
            result = await solve(request, trace=trace)
        assert server.model.requests == []
    assert result.stop_reason is SolveOutcome.SETUP_FAILED
    assert result.stats.steps == 0 and result.stats.cost_usd == 0
    assert result.setup is not None and not result.setup.ok and result.setup.tries
    report = render_report(request, result)
    assert said in report
    assert "```yaml" in report and "test_command:" in report
    kinds = [event["kind"] for event in read_trace(tmp_path / "trace.jsonl")]
    assert "setup" in kinds
