"""`patchbot runs list` and `runs show ID`: the runs in the store and one run's trace."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from bot.console import utc_text
from bot.runs.models import Run, RunState


def register(subparsers: Any) -> None:
    runs = subparsers.add_parser("runs", help="list runs, or show one run and its trace")
    commands = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="the latest runs, newest first")
    listing.add_argument("--state", help="only runs in this state (queued, running, ...)")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(run=_list)
    show = commands.add_parser("show", help="one run and its trace")
    show.add_argument("run_id", type=int, metavar="ID")
    show.set_defaults(run=_show)


def duration_text(run: Run, now: float) -> str:
    """How long the run took from its first claim to its end, or has taken so far while it
    runs; `-` before a worker claims it, and while it waits for an approval."""
    if run.started_at is None:
        return "-"
    if run.finished_at is not None:
        seconds = run.finished_at - run.started_at
    elif run.state is RunState.RUNNING:
        seconds = now - run.started_at
    else:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def run_cost_text(run: Run) -> str:
    """The model's cost of the run's finished attempts, `unknown` for an unpriced model, `-`
    while nothing is recorded yet."""
    from bot.console import cost_text

    if run.state in (RunState.QUEUED, RunState.RUNNING) and run.cost_usd == 0:
        return "-"
    return cost_text(run.cost_usd)


def _list(args: argparse.Namespace) -> int:
    from bot.errors import ConfigError
    from bot.runs.store import opened_store
    from bot.settings import Settings

    try:
        state = RunState(args.state) if args.state else None
    except ValueError as error:
        names = ", ".join(s.value for s in RunState)
        raise ConfigError(f"--state {args.state}: not a run state; use one of {names}") from error

    async def fetch() -> list[Run]:
        async with opened_store(Settings.from_env().database_url) as store:
            return await store.list_runs(limit=args.limit, state=state)

    runs = asyncio.run(fetch())
    now = time.time()
    print(
        f"{'ID':>6}  {'STATE':<17} {'ISSUE':<28} {'REVISION':<9} {'BY':<14} {'TRIES':>5}  "
        f"{'CREATED':<20} {'DURATION':>9}  {'COST':<9} PR"
    )
    for run in runs:
        issue = f"{run.repository}#{run.issue}"
        revision = f"#{run.pull_request} r{run.iteration}" if run.pull_request else ""
        print(
            f"{run.id:>6}  {run.state.value:<17} {issue:<28} {revision:<9} {run.requester:<14} "
            f"{run.attempts:>5}  {utc_text(run.created_at):<20} {duration_text(run, now):>9}  "
            f"{run_cost_text(run):<9} {run.pr_url or '-'}"
        )
    if not runs:
        print("(no runs)")
    return 0


def _show(args: argparse.Namespace) -> int:
    from bot.runs.models import RunNotFound
    from bot.runs.pipeline import trace_path
    from bot.runs.store import opened_store
    from bot.settings import Settings
    from bot.trace import read_trace

    settings = Settings.from_env()

    async def fetch() -> Run | None:
        async with opened_store(settings.database_url) as store:
            return await store.get_run(args.run_id)

    run = asyncio.run(fetch())
    if run is None:
        raise RunNotFound.missing(args.run_id)
    for name, value in _shown_fields(run).items():
        print(f"{name:>17}: {value}")
    path = trace_path(settings.data_dir, run.id)
    print(f"\ntrace ({path}):")
    if not path.exists():
        print("  (none yet: no worker has claimed the run on this machine)")
        return 0
    for event in read_trace(path):
        stamp, kind = utc_text(event.pop("ts", None)), event.pop("kind", "?")
        print(f"  {stamp}  {kind}  {json.dumps(event, default=str)}")
    return 0


def _shown_fields(run: Run) -> dict[str, object]:
    """The run's fields for `runs show`: times readable, the duration, the cost in words."""
    shown: dict[str, object] = {}
    for name, value in run.model_dump(mode="json").items():
        if name.endswith("_at") and isinstance(value, float):
            value = utc_text(value)
        shown[name] = value
        if name == "finished_at":
            shown["duration"] = duration_text(run, time.time())
    unknown = (
        " (the model has no price in litellm's table, or an attempt ended before it said what "
        "it spent: it failed, was stopped, or its worker died)"
        if run.cost_usd is None
        else ""
    )
    shown["cost_usd"] = run_cost_text(run) + unknown
    shown["pr_url"] = run.pr_url or "-"
    return shown
