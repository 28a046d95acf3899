"""Today's model spend per repository and per installation, summed by the store."""

from __future__ import annotations

import time

import pytest

from bot.runs.models import NewRun, RunState
from bot.runs.store import RunStore


async def finished(store: RunStore, repository: str, installation: int, cost: float) -> int:
    run, _ = await store.create_run(
        NewRun(
            repository=repository,
            issue=1,
            requester="alice",
            trigger="label",
            installation_id=installation,
        )
    )
    await store.claim_run("w", 60, 3)
    await store.finish_run(run.id, "w", RunState.SUCCEEDED, "done", cost)
    return run.id


async def test_spend_is_summed_per_repository_and_installation(store: RunStore) -> None:
    before = time.time() - 1
    await finished(store, "octo/a", 1, 0.25)
    await finished(store, "octo/b", 1, 0.50)
    await finished(store, "other/c", 2, 4.00)
    current = await finished(store, "octo/a", 1, 1.00)
    spent = await store.spent_since(before, "octo/a", 1, excluding=current)
    assert spent == pytest.approx((0.25, 0.75))
    assert await store.spent_since(time.time() + 60, "octo/a", 1, excluding=current) == (0, 0)
