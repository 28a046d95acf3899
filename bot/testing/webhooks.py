"""Build webhook deliveries the way GitHub sends them: real payloads, signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.policy.load import overlay

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "github-webhooks"
"""Real payloads from octokit/webhooks, one folder per event (see its SOURCE.md)."""


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


def load_fixture(event: str, name: str) -> dict[str, Any]:
    """A payload from the fixtures, e.g. `load_fixture("issues", "labeled")`."""
    path = FIXTURES / event / f"{name}.payload.json"
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return payload


def build_delivery(
    event: str,
    payload: dict[str, Any],
    *,
    secret: str | None,
    overrides: dict[str, Any] | None = None,
    delivery_id: str | None = None,
) -> WebhookDelivery:
    """Headers and body of one delivery; `secret=None` leaves it unsigned."""
    body = json.dumps(overlay(payload, overrides or {})).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/patchbot-tests",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    return WebhookDelivery(headers, body)


def fixture_delivery(
    event: str,
    name: str,
    *,
    secret: str | None,
    overrides: dict[str, Any] | None = None,
    delivery_id: str | None = None,
) -> WebhookDelivery:
    """A signed delivery built from a fixture file, e.g. `("issue_comment", "created")`."""
    return build_delivery(
        event,
        load_fixture(event, name),
        secret=secret,
        overrides=overrides,
        delivery_id=delivery_id,
    )
