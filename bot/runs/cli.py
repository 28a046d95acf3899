"""`patchbot worker` (work runs apart from `serve`), `patchbot runs list` and `runs show ID`."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from bot.console import utc_text, wait_for_signal
from bot.runs.models import Run, RunState
from bot.runs.pipeline import DEFAULT_PIPELINE


def register(subparsers: Any) -> None:
    worker = subparsers.add_parser("worker", help="claim and work runs (when serving is split)")
    worker.add_argument("--name", help="worker name shown in leases (default: host:pid:random)")
    worker.add_argument(
        "--pipeline",
        default=DEFAULT_PIPELINE,
        help="module:Class of the pipeline to run (default: %(default)s)",
    )
    worker.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve this worker's Prometheus metrics on http://HOST:PORT/metrics "
        "(runs, steps, model, sandbox, GitHub); the store's come from `patchbot serve`",
    )
    worker.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of --metrics-port (0.0.0.0: all)"
    )
    worker.set_defaults(run=_worker)

    runs = subparsers.add_parser("runs", help="list runs, or show one run and its trace")
    commands = runs.add_subparsers(dest="runs_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="the latest runs, newest first")
    listing.add_argument("--state", help="only runs in this state (queued, running, ...)")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(run=_list)
    show = commands.add_parser("show", help="one run and its trace")
    show.add_argument("run_id", type=int, metavar="ID")
    show.set_defaults(run=_show)


def _worker(args: argparse.Namespace) -> int:
    from bot.agent.model import configured_model
    from bot.github.app import require_app_key
    from bot.settings import require_all

    settings = args.settings  # fail now, with the steps to fix it, not at the first run
    require_all(lambda: require_app_key(settings), lambda: configured_model(settings))
    asyncio.run(_work_until_stopped(settings, args))
    return 0


async def _work_until_stopped(settings: Any, args: argparse.Namespace) -> None:
    from bot.runs.pipeline import load_pipeline
    from bot.runs.store import opened_store
    from bot.runs.worker import Worker
    from bot.telemetry.metrics import serve_metrics

    pipeline = load_pipeline(args.pipeline)
    if args.metrics_port is not None:
        serve_metrics(args.metrics_host, args.metrics_port)
    async with opened_store(settings.database_url) as store:
        worker = Worker(store, pipeline, settings, name=args.name)
        stop = asyncio.Event()
        working = asyncio.create_task(worker.run_forever(stop))
        print(f"patchbot: worker {worker.name} started", flush=True)
        await wait_for_signal()
        stop.set()  # drain: the run in progress ends as it would, no new one is claimed
        if not working.done():
            print(
                f"patchbot: worker {worker.name} is finishing its run; it claims no other "
                "(SIGTERM or SIGINT again: stop now, another worker takes the run over)",
                flush=True,
            )
            again = asyncio.create_task(wait_for_signal())
            await asyncio.wait({working, again}, return_when=asyncio.FIRST_COMPLETED)
            again.cancel()
        working.cancel()
        await asyncio.gather(working, return_exceptions=True)


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
    from bot.agent.loop import cost_text

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
