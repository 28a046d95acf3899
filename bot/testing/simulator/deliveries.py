"""Sending webhooks: one signed delivery of a payload (built by `payloads.py`) to the app's
webhook URL, and how the receiver answered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from bot.testing.simulator.shapes import Urls
from bot.testing.simulator.state import Repo, SimulatorState
from bot.testing.webhooks import build_delivery


@dataclass
class Delivery:
    """One delivery the simulator sent, and how the receiver answered."""

    event: str
    action: str
    delivery_id: str
    status: int
    response: str


class Acting(Protocol):
    """What the helpers that act as people and apps (`activity_*.py`) need from
    `GitHubSimulator`."""

    state: SimulatorState

    @property
    def urls(self) -> Urls: ...

    def repo(self, full_name: str) -> Repo: ...

    async def send_event(self, event: str, payload: dict[str, Any]) -> Delivery: ...


@dataclass
class WebhookTarget:
    url: str
    secret: str


async def send(
    target: WebhookTarget, event: str, payload: dict[str, Any], timeout: float = 30.0
) -> Delivery:
    """POST one signed delivery to the target and return how it answered."""
    delivery = build_delivery(event, payload, secret=target.secret)
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.post(target.url, data=delivery.body, headers=delivery.headers) as response,
    ):
        text = await response.text()
        return Delivery(
            event, str(payload.get("action", "")), delivery.delivery_id, response.status, text
        )
