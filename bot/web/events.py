"""A delivery's event, read from its request: the headers GitHub sets and the JSON body.

What gidgethub's `sansio.Event.from_http` does, without what the webhook entry has done
already (the signature) or does not accept (form-encoded bodies: a GitHub App sends JSON),
and with orjson: the body is parsed once, here, in a third of the standard parser's time, and
the handlers use the same objects."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from gidgethub import sansio

from bot.errors import PatchbotError

JSON = "application/json"


class BadDelivery(PatchbotError, ValueError):
    """The request is not a GitHub webhook delivery Patchbot can read."""


def read_event(headers: Mapping[str, str], content_type: str, body: bytes) -> sansio.Event:
    """The event of a delivery whose signature was checked: `headers` case-insensitive, as a
    request's are; `content_type` without its parameters (`request.content_type`).

    Raises BadDelivery, saying what is wrong, unless the body is a JSON object and the
    headers name the event and the delivery."""
    event, delivery_id = headers.get("X-GitHub-Event"), headers.get("X-GitHub-Delivery")
    if not event or not delivery_id:
        raise BadDelivery("the X-GitHub-Event and X-GitHub-Delivery headers are required")
    if content_type != JSON:
        raise BadDelivery(
            f"the body must be {JSON}, not {content_type} (the App's webhook content type)"
        )
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadDelivery(f"the body is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise BadDelivery("the body is not a JSON object")
    return sansio.Event(data, event=event, delivery_id=delivery_id)
