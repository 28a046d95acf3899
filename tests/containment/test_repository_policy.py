"""A repository's `.github/patchbot.yml` steers a run within the server's policy, and a broken
one stops the run with the error quoted, never the server."""

from __future__ import annotations

import shutil
from pathlib import Path

import aiohttp
import pytest

from bot.agent.scripted import load_trajectory
from bot.runs.models import RunState
from bot.testing.stack import MAINTAINER, LocalStack

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "octo/stats"
FIX = ROOT / "bot" / "agent" / "trajectories" / "fix_median.jsonl"


def repository_with(tmp_path: Path, policy: str) -> Path:
    source = tmp_path / "source"
    shutil.copytree(ROOT / "tests" / "examples" / "buggy_stats", source)
    (source / ".github").mkdir()
    (source / ".github" / "patchbot.yml").write_text(policy)
    return source


def status_comments(stack: LocalStack) -> list[str]:
    comments = stack.github.repo(REPOSITORY).comments.values()
    return [c.body for c in comments if "patchbot:status" in c.body]


async def test_broken_repository_policy_escalates_with_the_line_and_pushes_nothing(
    tmp_path: Path,
) -> None:
    source = repository_with(tmp_path, "budgets:\n  max_steps: 10\n  cost_usd: [oops\n")
    async with LocalStack(tmp_path / "stack", load_trajectory(FIX)) as stack:
        number = await stack.seed(REPOSITORY, source, "median() is wrong", "see title")
        await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
        run = await stack.finished_run(REPOSITORY, number, timeout=120)
        assert run.state is RunState.ESCALATED
        [status] = status_comments(stack)
        assert ".github/patchbot.yml" in status
        assert "line 3" in status
        assert "/patchbot retry" in status
        assert stack.github.repo(REPOSITORY).pulls == {}
        async with aiohttp.ClientSession() as session, session.get(f"{stack.url}/healthz") as r:
            assert r.status == 200  # the server keeps running


async def test_repository_may_tighten_to_a_draft_and_is_refused_loosening(
    tmp_path: Path,
) -> None:
    source = repository_with(tmp_path, "draft: true\nbudgets:\n  max_steps: 100000\n")
    async with LocalStack(tmp_path / "stack", load_trajectory(FIX)) as stack:
        number = await stack.seed(REPOSITORY, source, "median() is wrong", "see title")
        await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
        run = await stack.finished_run(REPOSITORY, number, timeout=240)
        assert run.state is RunState.SUCCEEDED, run.summary
        [pull] = stack.github.repo(REPOSITORY).pulls.values()
        assert pull.draft
        body = pull.body or ""
        assert "budgets.max_steps" in body  # the refused loosening is reported, not hidden
        assert "40 steps" in body or "/40 steps" in body


async def test_repository_may_ask_more_of_who_triggers_and_nothing_runs(tmp_path: Path) -> None:
    source = repository_with(tmp_path, "trigger:\n  min_permission: maintain\n")
    async with LocalStack(tmp_path / "stack", load_trajectory(FIX)) as stack:
        number = await stack.seed(REPOSITORY, source, "median() is wrong", "see title")
        await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
        run = await stack.finished_run(REPOSITORY, number, timeout=120)
        assert run.state is RunState.ESCALATED
        assert "needs `maintain`" in run.summary
        [status] = status_comments(stack)
        assert "| trigger | ⛔ deny |" in status
        assert stack.model.model.remaining == len(load_trajectory(FIX))  # no model call
        assert stack.github.repo(REPOSITORY).pulls == {}
