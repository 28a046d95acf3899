"""Revision runs: feedback on Patchbot's own pull request gathers into one queued run.

A review with ten line comments arrives as eleven webhooks. Each keeps its feedback in the
store; the first one that asks for a revision queues a run that waits `delay` seconds, and each
later one pushes that wait back, so one run takes them all. Feedback that arrives while a
revision runs waits for it to end: the worker then queues the next one (`follow_up`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from bot.runs.models import ActiveRunExists, FeedbackKind, NewRun, Run, RunState, Trigger
from bot.runs.store import RunStore

TRIGGER_OF: dict[FeedbackKind, Trigger] = {
    "review": "review",
    "comment": "revise",
    "update": "update",
    "check": "ci",
}
"""What each kind of feedback starts. Line comments start nothing on their own: they wait for
their review (or a `/patchbot revise`)."""

Queued = Literal["queued", "joined", "waiting", "busy"]
"""A new run was queued; the feedback joined a queued one; it waits for the running revision
to end; the issue has another kind of active run (a first run, or one awaiting approval)."""


@dataclass(frozen=True)
class RevisionRequest:
    """Who asks for a revision of which pull request, and how."""

    repository: str
    pull_request: int
    issue: int
    """The issue the pull request fixes: one active run per issue, first or revision."""
    requester: str
    trigger: Trigger
    installation_id: int | None
    delivery_id: str | None = None


async def request_revision(
    store: RunStore, request: RevisionRequest, delay: float
) -> tuple[Run, Queued]:
    """Queue a revision run of the pull request, or let the one already queued take the new
    feedback too (its start moves `delay` seconds later)."""
    not_before = time.time() + delay
    earlier = await store.pull_runs(request.repository, request.pull_request)
    new = NewRun(
        repository=request.repository,
        issue=request.issue,
        requester=request.requester,
        trigger=request.trigger,
        installation_id=request.installation_id,
        delivery_id=request.delivery_id,
        pull_request=request.pull_request,
        iteration=len(earlier) + 1,
        not_before=not_before,
    )
    try:
        run, created = await store.create_run(new)
    except ActiveRunExists as busy:
        active = busy.run
        if active.pull_request != request.pull_request or active.state not in (
            RunState.QUEUED,
            RunState.RUNNING,
        ):
            return active, "busy"
        if active.state is RunState.QUEUED:
            postponed = await store.postpone_run(active.id, not_before)
            if postponed is not None:
                return postponed, "joined"
        return active, "waiting"  # a worker has it: the feedback waits for the next run
    return run, "queued" if created else "joined"


async def follow_up(store: RunStore, run: Run) -> Run | None:
    """After a revision run ended: queue the next one when feedback that asks for a revision
    arrived while it ran; that run, or None.

    Feedback from before the run started that it never took (it failed first) does not count:
    it would queue the same failing run again and again. The next request takes it along."""
    if run.pull_request is None:
        return None
    pending = await store.pending_feedback(run.repository, run.pull_request)
    started = run.started_at or 0.0
    asking = [item for item in pending if item.kind in TRIGGER_OF and item.received_at >= started]
    if not asking:
        return None
    request = RevisionRequest(
        repository=run.repository,
        pull_request=run.pull_request,
        issue=run.issue,
        requester=asking[0].author,
        trigger=TRIGGER_OF[asking[0].kind],
        installation_id=run.installation_id,
    )
    queued, how = await request_revision(store, request, delay=0.0)
    return queued if how == "queued" else None
