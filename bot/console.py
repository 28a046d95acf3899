"""What the long-running commands and the listing commands share: a clean stop on a signal,
and times and costs as people read them."""

from __future__ import annotations

import asyncio
import datetime
import signal


async def wait_for_signal() -> None:
    """Return at SIGTERM or SIGINT (a clean stop)."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()


def utc_text(timestamp: float | None) -> str:
    """A Unix time as `YYYY-MM-DD HH:MM:SSZ`, or `-` when there is none."""
    if timestamp is None:
        return "-"
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def cost_text(cost_usd: float | None) -> str:
    """US dollars as people read them; `unknown` for a model litellm has no price for."""
    return "unknown" if cost_usd is None else f"${cost_usd:.4f}"
