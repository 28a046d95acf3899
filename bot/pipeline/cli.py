"""`patchbot worker`: claim queued runs and work each through the GitHub pipeline, apart from
`patchbot serve` (which can also work runs itself, `--workers N`)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.console import wait_for_signal
from bot.runs.pipeline import Pipeline, load_pipeline


def chosen_pipeline(spec: str | None) -> Pipeline:
    """The server's pipeline (GitHub runs and scheduled evaluations); tests name another
    (`module:Class`, the hidden `--pipeline`)."""
    from bot.pipeline.server import ServerPipeline

    return load_pipeline(spec) if spec else ServerPipeline()


def register(subparsers: Any) -> None:
    worker = subparsers.add_parser("worker", help="claim and work runs (when serving is split)")
    worker.add_argument("--name", help="worker name shown in leases (default: host:pid:random)")
    worker.add_argument("--pipeline", help=argparse.SUPPRESS)  # tests: module:Class instead
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


def _worker(args: argparse.Namespace) -> int:
    from bot.agent.model import configured_model
    from bot.github.app import require_app_key
    from bot.settings import require_all

    settings = args.settings  # fail now, with the steps to fix it, not at the first run
    require_all(lambda: require_app_key(settings), lambda: configured_model(settings))
    asyncio.run(_work_until_stopped(settings, args))
    return 0


async def _work_until_stopped(settings: Any, args: argparse.Namespace) -> None:
    from bot.runs.store import opened_store
    from bot.runs.worker import Worker
    from bot.telemetry.metrics import serve_metrics

    pipeline = chosen_pipeline(args.pipeline)
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
