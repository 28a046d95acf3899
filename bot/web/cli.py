"""`patchbot serve`: the webhook receiver, with embedded workers unless `--workers 0`."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from bot.runs.pipeline import DEFAULT_PIPELINE


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="receive GitHub webhooks and work the runs they start",
        description="Serve POST /webhooks and GET /healthz. Configuration comes from the "
        "environment: APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET, DATABASE_URL, "
        "GITHUB_API_URL, PATCHBOT_* (see README.md).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: all)")
    serve.add_argument("--port", type=int, default=3000, help="TCP port to listen on")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="runs worked at once inside this process; 0 when `patchbot worker` does the work",
    )
    serve.add_argument("--pipeline", default=DEFAULT_PIPELINE, help=argparse.SUPPRESS)
    serve.set_defaults(run=_serve)


def _serve(args: argparse.Namespace) -> int:
    from bot.settings import Settings

    settings = Settings.from_env()
    settings.require_webhook_secret()
    settings.require_app_credentials()  # fail now, with the steps to fix it, not at a webhook
    asyncio.run(_serve_until_stopped(settings, args))
    return 0


async def _serve_until_stopped(settings: Any, args: argparse.Namespace) -> None:
    from aiohttp import web

    from bot.handlers import build_router
    from bot.handlers.dispatcher import Dispatcher
    from bot.runs.pipeline import load_pipeline
    from bot.runs.store import opened_store
    from bot.runs.worker import Worker
    from bot.web.app import create_app, tune_garbage_collector
    from bot.web.github_app import installation_apis
    from bot.web.limits import LimitedSite

    pipeline = load_pipeline(args.pipeline)
    async with opened_store(settings.database_url) as store, installation_apis(settings) as github:
        dispatcher = Dispatcher(store, settings, github, build_router())
        workers = [Worker(store, pipeline, settings) for _ in range(args.workers)]
        app = create_app(
            webhook_secret=settings.require_webhook_secret(),
            store=store,
            dispatcher=dispatcher,
            workers=workers,
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await LimitedSite(runner, args.host, args.port).start()
            tune_garbage_collector()
            print(f"patchbot: listening on http://{args.host}:{args.port}/webhooks", flush=True)
            await wait_for_signal()
        finally:
            await runner.cleanup()


async def wait_for_signal() -> None:
    """Return at SIGTERM or SIGINT (a clean stop)."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()
