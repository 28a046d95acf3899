"""The dashboard's pages: the runs (filtered, paged), one run's timeline, the runs waiting for
approval and who may give it, and the KPIs per repository with charts over time."""

from __future__ import annotations

import asyncio
import calendar
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import ValidationError

from bot.dashboard.context import SETTINGS, STORE
from bot.dashboard.render import page
from bot.dashboard.sessions import VIEWER
from bot.dashboard.timeline import read_timeline
from bot.runs.held import HeldPatch
from bot.runs.models import Hold, Run, RunState
from bot.runs.pipeline import trace_path
from bot.runs.views import OUTCOMES, RunFilter

PAGE_SIZE = 50


class BadFilter(ValueError):
    """A filter a person typed that means nothing; the message says what would."""


def _day(value: str, name: str) -> float | None:
    if not value:
        return None
    try:
        return float(calendar.timegm(time.strptime(value, "%Y-%m-%d")))
    except ValueError as error:
        raise BadFilter(f"{name}: {value!r} is not a date like 2026-12-31") from error


def run_filter(query: Any, repositories: tuple[str, ...] | None) -> RunFilter:
    """The filter the page's query asks for, within the viewer's repositories."""
    state, outcome = query.get("state", ""), query.get("outcome", "")
    if state and state not in {s.value for s in RunState}:
        raise BadFilter(f"state: {state!r} is not one of {', '.join(s.value for s in RunState)}")
    if outcome and outcome not in OUTCOMES:
        raise BadFilter(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    until = _day(query.get("until", ""), "until")
    return RunFilter(
        repositories=repositories,
        repository=query.get("repo") or None,
        state=RunState(state) if state else None,
        outcome=outcome or None,
        created_from=_day(query.get("since", ""), "since"),
        created_before=until + 24 * 3600 if until is not None else None,
    )


def _page_number(query: Any) -> int:
    text = query.get("page", "1")
    if not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise BadFilter(f"page: {text!r} is not a page number (1, 2, ...)")
    return int(text)


async def runs_page(request: web.Request) -> web.Response:
    viewer = request[VIEWER]
    store = request.config_dict[STORE]
    filters = {
        key: request.query.get(key, "") for key in ("repo", "state", "outcome", "since", "until")
    }
    try:
        where = run_filter(request.query, viewer.repositories)
        number = _page_number(request.query)
    except BadFilter as bad:
        return page(
            "runs.html",
            request,
            status=400,
            error=str(bad),
            runs=[],
            total=0,
            filters=filters,
            pages={"previous": None, "next": None, "last": 1},
            number=1,
            states=list(RunState),
            outcomes=OUTCOMES,
        )
    runs, total = await asyncio.gather(
        store.search_runs(where, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE),
        store.count_runs(where),
    )
    kept = {key: value for key, value in filters.items() if value}
    last = max(1, -(-total // PAGE_SIZE))
    pages = {
        "previous": f"?{urlencode({**kept, 'page': number - 1})}" if number > 1 else None,
        "next": f"?{urlencode({**kept, 'page': number + 1})}" if number < last else None,
        "last": last,
    }
    return page(
        "runs.html",
        request,
        error=None,
        runs=runs,
        total=total,
        filters=filters,
        pages=pages,
        number=number,
        states=list(RunState),
        outcomes=OUTCOMES,
    )


async def run_page(request: web.Request) -> web.Response:
    viewer = request[VIEWER]
    store = request.config_dict[STORE]
    run = await store.get_run(int(request.match_info["run_id"]))
    if run is None or not viewer.may_see(run.repository):
        return page(
            "message.html",
            request,
            status=404,
            title="No such run",
            text="There is no run with this number among the repositories you can read.",
        )
    path = trace_path(request.config_dict[SETTINGS].data_dir, run.id)
    timeline = await asyncio.to_thread(read_timeline, path)
    hold = await store.get_hold(run.id)
    held = _held_patch(hold)
    if not timeline.diff and held is not None:
        timeline.diff = held.patch
    return page(
        "run.html",
        request,
        run=run,
        timeline=timeline,
        hold=hold,
        held=held,
        approvers=_approvers(run, held) if held else "",
    )


def _held_patch(hold: Hold | None) -> HeldPatch | None:
    if hold is None:
        return None
    try:
        return HeldPatch.model_validate_json(hold.content)
    except ValidationError:
        return None  # a pipeline's other hold (a revision's), shown without its patch


def _approvers(run: Run, held: HeldPatch) -> str:
    """Who may approve, in words, from the policy in force when the run paused."""
    who = f"people with {held.approval.min_permission} access or more to {run.repository}"
    if not held.approval.allow_requester:
        who += f", except {held.requester} who asked for the run"
    return who


async def approvals_page(request: web.Request) -> web.Response:
    viewer = request[VIEWER]
    waiting = await request.config_dict[STORE].awaiting_approval(viewer.repositories)
    rows = []
    for run, hold in waiting:
        held = _held_patch(hold)
        rows.append(
            {
                "run": run,
                "hold": hold,
                "held": held,
                "approvers": _approvers(run, held) if held else "see the run's policy",
            }
        )
    return page("approvals.html", request, rows=rows)
