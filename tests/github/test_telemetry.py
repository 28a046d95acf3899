"""What GitHub calls report: the rate limit left, per installation, from GitHub's headers, and
each call of a run in the run's trace (method, path, status, time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gidgethub
import pytest

from bot.github.client import GitHubApp
from bot.testing.simulator.state import Installation
from bot.trace import Trace, read_trace, tracing

REPO_PATH = "/repos/octo/demo"


async def test_the_rate_limit_left_is_kept_per_installation(
    app: GitHubApp, installation: Installation, scrape: Any
) -> None:
    api = await app.installation_api(installation.id)
    await api.getitem(REPO_PATH)
    left = scrape.value(
        "patchbot_github_rate_limit_remaining", installation=str(installation.id), resource="core"
    )
    assert left == 4999  # what the simulator's headers say
    await app.app_api().getitem("/app")
    assert scrape.value("patchbot_github_rate_limit_remaining", installation="app", resource="core")


async def test_a_runs_github_calls_are_in_its_trace(
    app: GitHubApp, installation: Installation, tmp_path: Path
) -> None:
    api = await app.installation_api(installation.id)
    await api.getitem(REPO_PATH)  # outside a run: in no trace
    with Trace(tmp_path / "trace.jsonl") as trace, tracing(trace):
        await api.getitem("/repos/{owner}/{repo}", {"owner": "octo", "repo": "demo"})
        with pytest.raises(gidgethub.BadRequest):
            await api.getitem("/repos/octo/missing")
    calls = [event for event in read_trace(tmp_path / "trace.jsonl")]
    assert [(c["kind"], c["method"], c["path"], c["status"]) for c in calls] == [
        ("github_call", "GET", REPO_PATH, 200),
        ("github_call", "GET", "/repos/octo/missing", 404),
    ]
    assert all(0 <= call["duration"] < 30 for call in calls)
