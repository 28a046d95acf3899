"""`patchbot runs list` and `runs show ID` as a user runs them: each run's outcome, duration,
cost (`unknown` for an unpriced model, never $0) and pull request."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.runs.cli import duration_text
from bot.runs.models import NewRun, Run, RunState
from bot.runs.store import opened_store
from bot.testing.processes import run_patchbot
from bot.trace import Trace

PULL = "https://github.com/octo/hello/pull/7"


def stored(state: RunState, started: float | None, finished: float | None) -> Run:
    return Run(
        id=1,
        repository="octo/hello",
        issue=1,
        requester="alice",
        trigger="label",
        state=state,
        created_at=0.0,
        updated_at=0.0,
        started_at=started,
        finished_at=finished,
    )


@pytest.mark.parametrize(
    ("state", "started", "finished", "shown"),
    [
        (RunState.QUEUED, None, None, "-"),
        (RunState.RUNNING, 100.0, None, "42.0 s"),
        (RunState.SUCCEEDED, 100.0, 108.24, "8.2 s"),
        (RunState.ESCALATED, 100.0, 292.0, "3m 12s"),
        (RunState.FAILED, 100.0, 100.0 + 2 * 3600 + 5 * 60, "2h 05m"),
        (RunState.AWAITING_APPROVAL, 100.0, None, "-"),
    ],
)
def test_the_duration_runs_from_the_first_claim_to_the_end(
    state: RunState, started: float | None, finished: float | None, shown: str
) -> None:
    assert duration_text(stored(state, started, finished), now=142.0) == shown


async def test_runs_list_and_show_give_outcome_duration_cost_and_pull_request(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'patchbot.db'}"
    async with opened_store(database_url) as store:
        ids = []
        for issue in (1, 2, 3):
            run, _ = await store.create_run(
                NewRun(repository="octo/hello", issue=issue, requester="alice", trigger="label")
            )
            ids.append(run.id)
        priced, unpriced, waiting = ids
        for run_id, cost in ((priced, 0.25), (unpriced, None)):
            assert await store.claim_run("w1", lease_seconds=30, max_attempts=3) is not None
            if run_id == priced:
                await store.record_pull_request(run_id, PULL)
            await store.finish_run(run_id, "w1", RunState.SUCCEEDED, "done", cost_usd=cost)
    with Trace(tmp_path / "data" / "runs" / f"{unpriced}.jsonl") as trace:
        trace.event("claimed", worker="w1", attempt=1)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PATCHBOT_DATA_DIR")},
        "DATABASE_URL": database_url,
        "PATCHBOT_DATA_DIR": str(tmp_path / "data"),
    }

    listed = await run_patchbot("runs", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == [
        "ID", "STATE", "ISSUE", "REVISION", "BY", "TRIES", "CREATED", "DURATION", "COST", "PR",
    ]  # fmt: skip
    by_id = {int(row.split()[0]): row for row in rows}
    assert by_id[priced].split()[-3:] == ["s", "$0.2500", PULL]
    assert by_id[unpriced].split()[-3:] == ["s", "unknown", "-"]
    assert "queued" in by_id[waiting] and by_id[waiting].split()[-3:] == ["-", "-", "-"]
    assert "$0.0000" not in listed.stdout

    shown = await run_patchbot("runs", "show", str(unpriced), env=env)
    assert shown.returncode == 0, shown.stderr
    head, trace_text = shown.stdout.split("\ntrace", 1)
    fields = {
        key.strip(): value for key, _, value in (line.partition(": ") for line in head.splitlines())
    }
    assert fields["cost_usd"].startswith("unknown (the model has no price in litellm's table")
    assert fields["state"] == "succeeded" and fields["pr_url"] == "-"
    assert fields["duration"].endswith(" s")
    assert "claimed" in trace_text
    priced_shown = await run_patchbot("runs", "show", str(priced), env=env)
    assert f"pr_url: {PULL}" in priced_shown.stdout and "cost_usd: $0.2500" in priced_shown.stdout
