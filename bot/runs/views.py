"""Read-only views of the runs for people looking at them (the dashboard): a filtered page of
runs, the runs waiting for approval, weekly counts. Filtering, paging and grouping happen in
the database, so a page costs the same with ten runs or a hundred thousand."""

from __future__ import annotations

from typing import Literal, Protocol, get_args

from pydantic import BaseModel, Field

from bot.runs.models import Hold, PullOutcomeState, Run, RunState

Outcome = Literal["pull_request", "no_pull_request", PullOutcomeState]
"""What a run left behind: a pull request (opened or pushed to), or, once ended, none; or
where the pull request it opened or revised ended up (`pull_outcomes`: open, merged, closed,
reverted)."""
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


class RunFilter(BaseModel):
    """Which runs to show. Every field narrows; None: no condition."""

    repositories: tuple[str, ...] | None = None
    """The repositories the viewer may see (None: all of them, for an operator's token)."""
    repository: str | None = None
    """One repository, `owner/name`."""
    state: RunState | None = None
    outcome: Outcome | None = None
    created_from: float | None = None
    """Unix time: runs created at or after it."""
    created_before: float | None = None
    """Unix time: runs created before it."""


class WeeklyRuns(BaseModel):
    """How many runs of one repository, created in one week, ended in one state."""

    repository: str
    week: int = Field(ge=0)
    """Weeks since the Unix epoch (a Thursday): `week * 604800` is its first second."""
    state: RunState
    runs: int
    cost_usd: float
    """What those runs whose cost is known spent on the model, US dollars."""
    unknown_cost: int
    """Those of the runs whose cost is unknown."""


WEEK_SECONDS = 7 * 24 * 3600


class RunViews(Protocol):
    """The queries behind the dashboard's pages."""

    async def search_runs(self, where: RunFilter, *, limit: int, offset: int = 0) -> list[Run]:
        """The runs `where` selects, newest first, `limit` of them after skipping `offset`."""

    async def count_runs(self, where: RunFilter) -> int:
        """How many runs `where` selects."""

    async def awaiting_approval(
        self, repositories: tuple[str, ...] | None
    ) -> list[tuple[Run, Hold]]:
        """The runs waiting for a human's decision and what each holds, oldest first
        (`repositories`: only theirs; None: all)."""

    async def weekly_runs(
        self, repositories: tuple[str, ...] | None, since: float
    ) -> list[WeeklyRuns]:
        """Runs created since `since` (Unix time), counted by repository, week and state."""
