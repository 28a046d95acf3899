"""`patchbot deliveries list [--failed]` and `patchbot deliveries replay ID`: an operator sees
the webhook deliveries whose handling failed and retries them once the cause is fixed."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from bot.console import utc_text
from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.runs.models import Delivery
    from bot.settings import Settings

EXIT_HANDLED = 0
EXIT_FAILED_AGAIN = 1


def register(subparsers: Any) -> None:
    deliveries = subparsers.add_parser(
        "deliveries", help="list webhook deliveries, or replay one whose handling failed"
    )
    commands = deliveries.add_subparsers(
        dest="deliveries_command", metavar="COMMAND", required=True
    )
    listing = commands.add_parser("list", help="the latest deliveries, newest first")
    listing.add_argument("--failed", action="store_true", help="only those whose handling failed")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.set_defaults(run=_list)
    replay = commands.add_parser(
        "replay",
        help="handle a failed delivery again",
        description="Handle the stored delivery again, through the same handlers as when it "
        "arrived, and record the outcome. Exit 0: handled (or already handled: nothing to do); "
        "1: it failed again; 2: no such delivery, or one not handled yet.",
    )
    replay.add_argument("delivery_id", metavar="ID", help="the delivery's id (X-GitHub-Delivery)")
    replay.set_defaults(run=_replay)


def _outcome(delivery: Delivery) -> str:
    if delivery.processed_at is None:
        return "pending"
    return "failed" if delivery.error is not None else "handled"


def _list(args: argparse.Namespace) -> int:
    from bot.runs.store import opened_store

    async def fetch() -> list[Delivery]:
        async with opened_store(args.settings.database_url) as store:
            return await store.list_deliveries(failed=args.failed, limit=args.limit)

    deliveries = asyncio.run(fetch())
    print(f"{'ID':<38} {'EVENT':<36} {'RECEIVED':<20} {'OUTCOME':<8} ERROR")
    for delivery in deliveries:
        event = f"{delivery.event}.{delivery.action}" if delivery.action else delivery.event
        error = (delivery.error or "").strip().split("\n", 1)[0][:100]
        print(
            f"{delivery.delivery_id:<38} {event:<36} {utc_text(delivery.received_at):<20} "
            f"{_outcome(delivery):<8} {error}"
        )
    if not deliveries:
        print("(no failed deliveries)" if args.failed else "(no deliveries)")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from bot.github.app import require_app_key

    settings: Settings = args.settings
    require_app_key(settings)
    return asyncio.run(_replay_delivery(settings, args.delivery_id))


async def _replay_delivery(settings: Settings, delivery_id: str) -> int:
    from bot.handlers import build_router
    from bot.handlers.dispatcher import Dispatcher
    from bot.runs.store import opened_store
    from bot.web.github_app import installation_apis

    async with opened_store(settings.database_url) as store:
        delivery = await store.get_delivery(delivery_id)
        if delivery is None:
            raise ConfigError(
                f"no delivery {delivery_id} in the store; `patchbot deliveries list` shows them"
            )
        if delivery.processed_at is None:
            raise ConfigError(
                f"delivery {delivery_id} has not been handled yet: the server handles it at its "
                "next start or sweep (within PATCHBOT_LEASE_SECONDS); nothing to replay"
            )
        if delivery.error is None:
            handled = utc_text(delivery.processed_at)
            print(f"delivery {delivery_id} was handled at {handled}; nothing to replay")
            return EXIT_HANDLED
        print(f"replaying {delivery_id} ({delivery.event}), which failed: {delivery.error}")
        async with installation_apis(settings) as github:
            await Dispatcher(store, settings, github, build_router()).process_stored(delivery)
        replayed = await store.get_delivery(delivery_id)
    if replayed is not None and replayed.error is not None:
        print(f"delivery {delivery_id} failed again: {replayed.error}")
        return EXIT_FAILED_AGAIN
    print(f"delivery {delivery_id} handled")
    return EXIT_HANDLED
