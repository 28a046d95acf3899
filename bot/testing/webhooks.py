"""Build webhook deliveries the way GitHub sends them: a JSON payload, signed with HMAC-SHA256.

The payloads themselves come from the simulator (`bot.testing.simulator.payloads`)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WebhookDelivery:
    headers: dict[str, str]
    body: bytes

    @property
    def delivery_id(self) -> str:
        return self.headers["X-GitHub-Delivery"]


def sign(body: bytes, secret: str) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for this body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def build_delivery(
    event: str,
    payload: dict[str, Any],
    *,
    secret: str | None,
    delivery_id: str | None = None,
) -> WebhookDelivery:
    """Headers and body of one delivery; `secret=None` leaves it unsigned."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/patchbot-tests",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    return WebhookDelivery(headers, body)
