"""The RunStore's feedback contract (review comments waiting for a revision run), run against
SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio

import pytest

from bot.runs.models import FeedbackKind, NewFeedback, NewRun, Run, RunNotFound, RunState
from bot.runs.store import RunStore


def item(source_id: int, kind: FeedbackKind = "line", pull_request: int = 10) -> NewFeedback:
    return NewFeedback(
        repository="octo/hello",
        pull_request=pull_request,
        kind=kind,
        author="carol",
        body=f"please rename this ({source_id})",
        source_id=source_id,
        path="src/app.py",
        line=12,
        diff_hunk="@@ -10,3 +10,3 @@\n-old\n+new",
        review_id=900,
        delivery_id=f"d-{source_id}",
    )


async def revision_run(store: RunStore, issue: int = 1, pull_request: int = 10) -> Run:
    run, _ = await store.create_run(
        NewRun(
            repository="octo/hello",
            issue=issue,
            requester="carol",
            trigger="review",
            pull_request=pull_request,
            iteration=1,
        )
    )
    return run


async def test_feedback_is_kept_once_per_kind_and_source(store: RunStore) -> None:
    assert await store.add_feedback(item(1))
    assert not await store.add_feedback(item(1))
    assert await store.add_feedback(item(1, kind="review"))
    assert await store.add_feedback(item(1, pull_request=11))
    pending = await store.pending_feedback("octo/hello", 10)
    assert [(f.kind, f.source_id) for f in pending] == [("line", 1), ("review", 1)]
    kept = pending[0]
    assert kept.model_dump(exclude={"id", "received_at", "run_id"}) == item(1).model_dump()
    assert kept.run_id is None and kept.received_at > 0


async def test_concurrent_redeliveries_keep_one_item(store: RunStore) -> None:
    results = await asyncio.gather(*(store.add_feedback(item(7)) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert len(await store.pending_feedback("octo/hello", 10)) == 1


async def test_a_run_takes_the_pending_feedback_of_its_pull_request(store: RunStore) -> None:
    for source_id in (1, 2):
        await store.add_feedback(item(source_id))
    await store.add_feedback(item(3, pull_request=11))
    first = await revision_run(store)
    taken = await store.take_feedback(first.id, "octo/hello", 10)
    assert [(f.source_id, f.run_id) for f in taken] == [(1, first.id), (2, first.id)]
    assert await store.pending_feedback("octo/hello", 10) == []
    assert await store.take_feedback(first.id, "octo/hello", 10) == taken  # a retried attempt

    claimed = await store.claim_run("w", 60, 3)
    assert claimed is not None and claimed.id == first.id
    await store.finish_run(first.id, "w", RunState.SUCCEEDED, "pushed")
    await store.add_feedback(item(4))
    assert [f.source_id for f in await store.pending_feedback("octo/hello", 10)] == [4]
    second = await revision_run(store)
    assert [f.source_id for f in await store.take_feedback(second.id, "octo/hello", 10)] == [4]
    assert await store.take_feedback(first.id, "octo/hello", 10) == taken
    assert [f.source_id for f in await store.pending_feedback("octo/hello", 11)] == [3]


@pytest.mark.parametrize("ended", [RunState.ESCALATED, RunState.FAILED, RunState.CANCELLED])
async def test_feedback_a_run_pushed_nothing_for_is_taken_again_but_not_a_failed_check(
    store: RunStore, ended: RunState
) -> None:
    await store.add_feedback(item(1))
    await store.add_feedback(item(2, kind="check"))
    first = await revision_run(store)
    await store.take_feedback(first.id, "octo/hello", 10)
    if ended is RunState.CANCELLED:
        await store.cancel_run(first.id)
    else:
        await store.claim_run("w", 60, 3)
        await store.finish_run(first.id, "w", ended, "nothing pushed")
    await store.add_feedback(item(3, kind="comment"))
    second = await revision_run(store)
    again = await store.take_feedback(second.id, "octo/hello", 10)
    assert [(f.source_id, f.kind) for f in again] == [(1, "line"), (3, "comment")]


async def test_concurrent_takers_never_share_an_item(store: RunStore) -> None:
    for source_id in range(20):
        await store.add_feedback(item(source_id))
    runs = [await revision_run(store, issue=issue) for issue in (1, 2)]
    takes = await asyncio.gather(*(store.take_feedback(run.id, "octo/hello", 10) for run in runs))
    first, second = ({f.id for f in taken} for taken in takes)
    assert not first & second
    assert len(first | second) == 20


async def test_take_for_an_unknown_run_is_refused(store: RunStore) -> None:
    await store.add_feedback(item(1))
    with pytest.raises(RunNotFound):
        await store.take_feedback(4242, "octo/hello", 10)
    assert len(await store.pending_feedback("octo/hello", 10)) == 1
