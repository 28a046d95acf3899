"""What the store keeps to account for Patchbot's work: what became of its pull requests, each
ended run's facts, people's cycle time to compare with, and scheduled evaluations' results.
The KPIs, the governance views and the drift alert read these (part of `RunStore`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from bot.runs.evals import EvalRecord
from bot.runs.facts import CycleTimeBaseline, RunFacts
from bot.runs.models import CiResult, Hold, PullOutcome, PullState, Run


class Accounts(Protocol):
    # What became of Patchbot's pull requests
    async def record_closed(self, outcome: PullOutcome) -> None:
        """Keep a pull request's final state (merged or closed, when, by whom), over any
        recorded before."""

    async def record_reopened(self, repository: str, pull_request: int) -> None:
        """A closed (not merged) pull request was reopened: it is open again."""

    async def record_ci(self, repository: str, head_sha: str, result: CiResult) -> int:
        """Another app's check or status on a commit: the outcomes whose first push it is
        take it (`fail` stays `fail`); how many did."""

    async def record_human_push(self, repository: str, pull_request: int, after: str) -> bool:
        """Count a person's push (new head `after`) to the pull request's branch; False when
        this head was counted already or the pull request is not recorded."""

    async def record_revert(self, repository: str, reverted_sha: str, revert_sha: str) -> int:
        """Commit `revert_sha` reverted `reverted_sha` (its id, or at least 7 characters of
        it) on the default branch: the outcomes merged by that commit are marked reverted."""

    # The reads below take `repository` (one, or None: any) and `repositories` (the ones a
    # viewer may see; None: all of them); a row must match both.

    async def pull_outcomes(
        self,
        *,
        repository: str | None = None,
        state: PullState | None = None,
        repositories: tuple[str, ...] | None = None,
    ) -> list[PullOutcome]:
        """The recorded outcomes, by repository and number."""

    async def runs_with_facts_since(
        self,
        since: float,
        *,
        repository: str | None = None,
        repositories: tuple[str, ...] | None = None,
    ) -> list[tuple[Run, RunFacts | None]]:
        """The runs created since `since` (Unix time), oldest first, each with its kept facts
        (None when none were kept: it has not ended, or ended before migration 11)."""

    async def holds_since(
        self,
        since: float,
        *,
        repository: str | None = None,
        repositories: tuple[str, ...] | None = None,
    ) -> list[Hold]:
        """The holds made since `since` (Unix time) of runs in these repositories, and their
        decisions, oldest first."""

    async def record_facts(self, facts: Mapping[int, RunFacts]) -> None:
        """Keep what the KPIs need from each run's trace (by run id), over any kept before,
        in one transaction."""

    async def records_version(self, since: float) -> str:
        """A value that changes whenever a run created since `since`, a pull request outcome,
        a run's kept facts, a hold or a baseline changes: what computed KPIs are cached under."""

    async def save_baseline(self, baseline: CycleTimeBaseline) -> None:
        """Keep a repository's people's cycle time, over the one kept before."""

    async def baselines(self) -> dict[str, CycleTimeBaseline]:
        """The kept people's cycle times, by repository."""

    # Scheduled evaluations
    async def keep_eval(self, record: EvalRecord) -> None:
        """Keep an evaluation's result (again for the same run: replaced)."""

    async def eval_history(self, repository: str, limit: int = 2) -> list[EvalRecord]:
        """The repository's latest evaluations, newest first."""

    async def latest_evals(self) -> list[EvalRecord]:
        """Each repository's latest evaluation, by repository name: for a metric (its
        resolve rate, wrong pull requests, cost, and whether it raised an alert)."""
