"""The dashboard's views (`bot.runs.views`) on a SQLite or PostgreSQL `Database`."""

from __future__ import annotations

from typing import Any

from bot.runs import accounting_statements as sql
from bot.runs.accounting_statements import visible_count, visible_values
from bot.runs.models import Hold, Run
from bot.runs.rows import hold_from_row, run_from_row
from bot.runs.sql import Database
from bot.runs.views import RunFilter, WeeklyRuns


class SQLRunViews:
    """`RunViews` on a `Database`. A viewer who may see no repository gets nothing without a
    query (an empty `IN ()` is not SQL)."""

    _db: Database

    async def search_runs(self, where: RunFilter, *, limit: int, offset: int = 0) -> list[Run]:
        if where.repositories == ():
            return []
        params = {**_filter_values(where), "limit": limit, "offset": offset}
        rows = await self._db.fetch(sql.search_runs(visible_count(where.repositories)), params)
        return [run_from_row(row) for row in rows]

    async def count_runs(self, where: RunFilter) -> int:
        if where.repositories == ():
            return 0
        row = await self._db.one(
            sql.count_runs(visible_count(where.repositories)), _filter_values(where)
        )
        return int(row["runs"]) if row else 0

    async def awaiting_approval(
        self, repositories: tuple[str, ...] | None
    ) -> list[tuple[Run, Hold]]:
        if repositories == ():
            return []
        rows = await self._db.fetch(
            sql.awaiting_approval(visible_count(repositories)), visible_values(repositories)
        )
        found = []
        for row in rows:
            hold = {
                key.removeprefix("hold_"): row.pop(key)
                for key in list(row)
                if key.startswith("hold_")
            }
            found.append((run_from_row(row), hold_from_row(hold)))
        return found

    async def weekly_runs(
        self, repositories: tuple[str, ...] | None, since: float
    ) -> list[WeeklyRuns]:
        if repositories == ():
            return []
        params = {**visible_values(repositories), "since": since}
        rows = await self._db.fetch(sql.weekly_runs(visible_count(repositories)), params)
        return [WeeklyRuns.model_validate(row) for row in rows]


def _filter_values(where: RunFilter) -> dict[str, Any]:
    return {
        **visible_values(where.repositories),
        "repository": where.repository,
        "state": where.state.value if where.state else None,
        "outcome": where.outcome,
        "created_from": where.created_from,
        "created_before": where.created_before,
    }
