"""`patchbot serve`: the webhook receiver, with embedded workers unless `--workers 0`."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.console import wait_for_signal
from bot.errors import ConfigError


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="receive GitHub webhooks and work the runs they start",
        description="Serve POST /webhooks, GET /healthz, GET /readyz, GET /metrics (Prometheus) "
        "and the dashboard under /ui/ (sign-in with GitHub: GITHUB_CLIENT_ID, "
        "GITHUB_CLIENT_SECRET). Configuration comes "
        "from the environment: APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET, "
        "DATABASE_URL, GITHUB_API_URL, PATCHBOT_* (see README.md, section Configuration).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: all)")
    serve.add_argument("--port", type=_port, default=3000, help="TCP port to listen on")
    serve.add_argument(
        "--workers",
        type=_count,
        default=1,
        help="runs worked at once inside this process; 0 when `patchbot worker` does the work",
    )
    serve.add_argument("--pipeline", help=argparse.SUPPRESS)  # tests: module:Class instead
    serve.set_defaults(run=_serve)


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a TCP port (0 to 65535; 0: any free)")
    return int(value)


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of 0 or more")
    return int(value)


def _serve(args: argparse.Namespace) -> int:
    from bot.agent.model import configured_model
    from bot.github.app import require_app_key
    from bot.settings import require_all

    settings = args.settings
    require_all(
        settings.require_webhook_secret,
        lambda: require_app_key(settings),
        lambda: configured_model(settings),
    )
    asyncio.run(_serve_until_stopped(settings, args))
    return 0


async def _serve_until_stopped(settings: Any, args: argparse.Namespace) -> None:
    from aiohttp import web

    from bot.dashboard.app import PREFIX, dashboard_app
    from bot.github.app import github_app
    from bot.handlers import build_router
    from bot.handlers.dispatcher import Dispatcher
    from bot.pipeline.cli import chosen_pipeline
    from bot.runs.store import opened_store
    from bot.runs.worker import Worker
    from bot.web.app import create_app, tune_garbage_collector
    from bot.web.readiness import Readiness, serving_checks

    pipeline = chosen_pipeline(args.pipeline)
    async with opened_store(settings.database_url) as store, github_app(settings) as github:
        dispatcher = Dispatcher(store, settings, github.installation_api, build_router())
        workers = [Worker(store, pipeline, settings) for _ in range(args.workers)]
        checks = serving_checks(settings, store, github, works_runs=args.workers > 0)
        app = create_app(
            webhook_secret=settings.require_webhook_secret(),
            store=store,
            dispatcher=dispatcher,
            workers=workers,
            readiness=Readiness(checks, secrets=settings.secrets()),
        )
        app.add_subapp(PREFIX, dashboard_app(settings, store))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await _listen(runner, args.host, args.port)
            tune_garbage_collector()
            print(f"patchbot: listening on http://{args.host}:{args.port}/webhooks", flush=True)
            await wait_for_signal()
        finally:
            await runner.cleanup()


async def _listen(runner: Any, host: str, port: int) -> None:
    from bot.web.limits import LimitedSite

    try:
        await LimitedSite(runner, host, port).start()
    except OSError as error:  # in use, not an address of this machine, not allowed
        raise ConfigError(
            f"cannot listen on {host}:{port} ({error.strerror or error}).\n"
            "  How to fix: choose a free port with --port, stop the process that uses it, "
            "or give --host an address of this machine (0.0.0.0: all of them)."
        ) from error
