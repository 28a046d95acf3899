"""`patchbot report` and `patchbot audit export` on a store with one merged pull request."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.runs.models import NewRun, PullOpened, PullOutcome, RunState
from bot.runs.store import opened_store


async def fill(url: str) -> None:
    async with opened_store(url) as store:
        new = NewRun(repository="octo/a", issue=1, requester="alice", trigger="label")
        run, _ = await store.create_run(new)
        claimed = await store.claim_run("w", 60, 3)
        assert claimed is not None
        await store.record_pull_request(run.id, "u", PullOpened(number=5, branch="b", head_sha="s"))
        await store.finish_run(run.id, "w", RunState.SUCCEEDED, "done", 0.25)
        (opened,) = await store.pull_outcomes()
        merged = PullOutcome(
            **{
                **opened.model_dump(),
                "state": "merged",
                "merged_by": "bob",
                "merged_at": opened.opened_at,
                "closed_at": opened.opened_at,
            }
        )
        await store.record_closed(merged)


def test_report_and_audit_read_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'patchbot.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("PATCHBOT_DATA_DIR", str(tmp_path / "data"))
    asyncio.run(fill(url))
    assert main(["report", "--format", "json", "--exceptions"]) == 0
    printed = capsys.readouterr()
    data = json.loads(printed.out)
    assert "no baseline: APP_ID and PRIVATE_KEY are not set" in printed.err
    assert (data["baseline_cycle_time_s"], data["cycle_time_reduction"]) == (None, None)
    assert (data["merged"], data["first_pass_quality"], data["cost_per_merged_pr_usd"]) == (
        1,
        1.0,
        0.25,
    )
    assert data["exceptions"] == []
    assert main(["audit", "export", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("at,action") and any(",merged,octo/a,bob," in line for line in lines)
    assert main(["report", "--since", "soon"]) == 2
