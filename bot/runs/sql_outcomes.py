"""What became of Patchbot's pull requests, once for both databases: the outcome webhooks
record (merged, closed, CI on the first push, people's pushes, reverts), and the reads the
KPIs and governance views make. `SQLRunStore` adds runs."""

from __future__ import annotations

import time
from collections.abc import Mapping

from bot.runs import accounting_statements as sql
from bot.runs.accounting_statements import visible_count, visible_values
from bot.runs.facts import CycleTimeBaseline, RunFacts
from bot.runs.models import (
    PULL_OUTCOME_STATES,
    CiResult,
    Hold,
    PullOutcome,
    PullState,
    Run,
)
from bot.runs.rows import (
    baseline_from_row,
    closed_outcome_values,
    facts_values,
    hold_from_row,
    outcome_from_row,
    run_and_facts_from_row,
)
from bot.runs.sql_intake import SQLIntakeStore

SHORTEST_SHA = 7
"""Characters of a commit id a revert message must give to be matched (git's own default)."""


class SQLOutcomeStore(SQLIntakeStore):
    """Pull request outcomes on a `Database`, the period's runs, holds and run facts, and
    people's cycle time."""

    async def record_closed(self, outcome: PullOutcome) -> None:
        await self._db.execute(sql.CLOSE_OUTCOME, closed_outcome_values(outcome))

    async def record_reopened(self, repository: str, pull_request: int) -> None:
        params = {"repository": repository, "pull_request": pull_request, "now": time.time()}
        await self._db.execute(sql.REOPEN_OUTCOME, params)

    async def record_ci(self, repository: str, head_sha: str, result: CiResult) -> int:
        params = {
            "repository": repository,
            "head_sha": head_sha,
            "result": result,
            "now": time.time(),
        }
        return await self._db.execute(sql.RECORD_CI, params)

    async def record_human_push(self, repository: str, pull_request: int, after: str) -> bool:
        params = {
            "repository": repository,
            "pull_request": pull_request,
            "after": after,
            "now": time.time(),
        }
        return await self._db.execute(sql.RECORD_HUMAN_PUSH, params) == 1

    async def record_revert(self, repository: str, reverted_sha: str, revert_sha: str) -> int:
        reverted = reverted_sha.lower()
        if len(reverted) < SHORTEST_SHA or not all(c in "0123456789abcdef" for c in reverted):
            return 0
        params = {
            "repository": repository,
            "reverted_prefix": reverted + "%",
            "revert_sha": revert_sha,
            "now": time.time(),
        }
        return await self._db.execute(sql.RECORD_REVERT, params)

    # The reads below: a viewer who may see no repository gets nothing without a query (an
    # empty `IN ()` is not SQL).

    async def pull_outcomes(
        self,
        *,
        repository: str | None = None,
        state: PullState | None = None,
        repositories: tuple[str, ...] | None = None,
    ) -> list[PullOutcome]:
        if repositories == ():
            return []
        params = {**visible_values(repositories), "repository": repository, "state": state}
        rows = await self._db.fetch(sql.list_outcomes(visible_count(repositories)), params)
        return [outcome_from_row(row) for row in rows]

    async def runs_with_facts_since(
        self,
        since: float,
        *,
        repository: str | None = None,
        repositories: tuple[str, ...] | None = None,
    ) -> list[tuple[Run, RunFacts | None]]:
        if repositories == ():
            return []
        params = {**visible_values(repositories), "since": since, "repository": repository}
        statement = sql.runs_with_facts_since(visible_count(repositories))
        return [run_and_facts_from_row(row) for row in await self._db.fetch(statement, params)]

    async def holds_since(
        self,
        since: float,
        *,
        repository: str | None = None,
        repositories: tuple[str, ...] | None = None,
    ) -> list[Hold]:
        if repositories == ():
            return []
        params = {**visible_values(repositories), "since": since, "repository": repository}
        rows = await self._db.fetch(sql.holds_since(visible_count(repositories)), params)
        return [hold_from_row(row) for row in rows]

    async def record_facts(self, facts: Mapping[int, RunFacts]) -> None:
        async with self._db.transaction() as session:
            for run_id, found in facts.items():
                await session.execute(sql.RECORD_FACTS, facts_values(run_id, found))

    async def save_baseline(self, baseline: CycleTimeBaseline) -> None:
        await self._db.execute(sql.SAVE_BASELINE, vars(baseline))

    async def baselines(self) -> dict[str, CycleTimeBaseline]:
        rows = await self._db.fetch(sql.LIST_BASELINES)
        return {found.repository: found for found in map(baseline_from_row, rows)}

    async def _pull_outcome_counts(self) -> dict[str, int]:
        """Patchbot's pull requests by where they ended up (each outcome present)."""
        counts: dict[str, int] = dict.fromkeys(PULL_OUTCOME_STATES, 0)
        for row in await self._db.fetch(sql.PULL_OUTCOMES_BY_STATE):
            counts[row["state"]] = int(row["pulls"])
        return counts

    async def records_version(self, since: float) -> str:
        row = await self._db.one(sql.RECORDS_VERSION, {"since": since})
        return repr(sorted((row or {}).items()))
