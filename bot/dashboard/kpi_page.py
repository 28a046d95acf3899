"""The KPI page: per repository, the KPIs of the period (`bot.kpi`, defined in docs/kpis.md),
people's cycle time, staged autonomy, and runs and cost week by week.

Computing it reads every run of the period (10,000 runs: a few hundred ms), so what was
computed is kept per period and viewer under the store's `records_version`, which changes
whenever anything it read changes; an unchanged store answers from memory."""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict
from typing import Any

from aiohttp import web

from bot.dashboard.charts import COLORS, cost_chart, runs_chart, weeks_between
from bot.dashboard.context import SETTINGS, STORE
from bot.dashboard.render import page
from bot.dashboard.sessions import VIEWER
from bot.kpi.autonomy import repository_track
from bot.kpi.baseline import baseline_seconds
from bot.kpi.compute import compute_kpis
from bot.kpi.records import KpiRecords, by_repository, load_records
from bot.runs.store import RunStore
from bot.runs.views import WEEK_SECONDS, WeeklyRuns
from bot.settings import Settings

KPI_WEEKS = 12
KEPT_PAGES = 32
"""Computed pages kept (one per period and set of visible repositories), least recent out."""


class KpiPages:
    """Computed KPI pages by (period start, visible repositories), with the store version
    they were computed at."""

    def __init__(self) -> None:
        self._kept: OrderedDict[Any, tuple[str, list[dict[str, Any]]]] = OrderedDict()

    async def repositories(
        self,
        store: RunStore,
        settings: Settings,
        since: float,
        visible: tuple[str, ...] | None,
    ) -> list[dict[str, Any]]:
        key = (since, visible)
        version = await store.records_version(since)
        kept = self._kept.get(key)
        if kept is not None and kept[0] == version:
            self._kept.move_to_end(key)
            return kept[1]
        computed = await _compute(store, settings, since, visible)
        self._kept[key] = (version, computed)
        while len(self._kept) > KEPT_PAGES:
            self._kept.popitem(last=False)
        return computed


KPI_PAGES = web.AppKey("dashboard_kpi_pages", KpiPages)


async def _compute(
    store: RunStore, settings: Settings, since: float, visible: tuple[str, ...] | None
) -> list[dict[str, Any]]:
    now = time.time()
    rows = await store.weekly_runs(visible, since)
    shown = weeks_between(int(since // WEEK_SECONDS), int(now // WEEK_SECONDS))
    weekly: dict[str, list[WeeklyRuns]] = defaultdict(list)
    for row in rows:
        weekly[row.repository].append(row)
    records = await load_records(store, settings.data_dir, since, visible=visible)
    split = by_repository(records)
    repositories = []
    for name, found in sorted(weekly.items()):
        part = split.get(name, KpiRecords(baselines=records.baselines))
        baseline = baseline_seconds(records.baselines, [name])
        repositories.append(
            {
                "name": name,
                "kpis": compute_kpis(part, since, now, name, baseline_cycle_time_s=baseline),
                "baseline": records.baselines.get(name),
                "autonomy": repository_track(name, part),
                "runs_chart": runs_chart(found, shown),
                "cost_chart": cost_chart(found, shown),
            }
        )
    return repositories


async def kpi_page(request: web.Request) -> web.Response:
    viewer = request[VIEWER]
    text = request.query.get("weeks", str(KPI_WEEKS))
    weeks = int(text) if text.isdigit() and 0 < int(text) <= 104 else KPI_WEEKS
    since = float((int(time.time() // WEEK_SECONDS) - weeks + 1) * WEEK_SECONDS)
    repositories = await request.config_dict[KPI_PAGES].repositories(
        request.config_dict[STORE], request.config_dict[SETTINGS], since, viewer.repositories
    )
    return page("kpi.html", request, repositories=repositories, weeks=weeks, colors=COLORS)
