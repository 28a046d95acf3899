"""The webhook server's limits, over real sockets: late headers and late bodies are cut off,
and with every connection slot taken by slow clients a genuine delivery is still answered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.handlers import build_router
from bot.handlers.dispatcher import Dispatcher
from bot.runs.store import RunStore
from bot.settings import Settings
from bot.testing.loopback import served
from bot.testing.recording_gh import RecordingGitHubAPI
from bot.testing.simulator import GitHubSimulator
from bot.testing.webhooks import build_delivery
from bot.web.app import create_app
from bot.web.limits import GUARD, ConnectionGuard, ServerLimits
from tests.simulated import labeled

SECRET = "test-webhook-secret-1234"
LIMITS = ServerLimits(header_timeout=0.5, body_timeout=0.5, max_connections=20)


@pytest.fixture
async def serve(
    store: RunStore, settings: Settings
) -> AsyncIterator[Callable[[ServerLimits], Awaitable[tuple[str, ConnectionGuard]]]]:
    """Start the webhook app on a `LimitedSite` with some limits; its URL and its guard."""

    async def github(installation_id: int) -> RecordingGitHubAPI:
        return RecordingGitHubAPI(base_url=settings.github_api_url)

    async with contextlib.AsyncExitStack() as running:

        async def start(limits: ServerLimits) -> tuple[str, ConnectionGuard]:
            dispatcher = Dispatcher(store, settings, github, build_router())
            app = create_app(
                webhook_secret=SECRET, store=store, dispatcher=dispatcher, limits=limits
            )
            return await running.enter_async_context(served(app)), app[GUARD]

        yield start


@pytest.fixture
async def server(serve: Any) -> tuple[str, ConnectionGuard]:
    """Short deadlines."""
    started: tuple[str, ConnectionGuard] = await serve(LIMITS)
    return started


class SlowClient:
    """A connection that sends part of a request and then nothing."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer  # a collected writer closes the socket

    @classmethod
    async def connect(cls, url: str, body_too: bool = False) -> SlowClient:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        if body_too:
            writer.write(b"POST /webhooks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        else:
            writer.write(b"POST /webhooks HTTP/1.1\r\nHost: x\r\nX-GitHub-Ev")
        await writer.drain()
        return cls(reader, writer)

    async def closed_within(self, seconds: float) -> bytes:
        """What the server sent before it closed the connection (fails if it never does)."""
        return await asyncio.wait_for(self.reader.read(), seconds)


@pytest.fixture(autouse=True)
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """A client the server cut off is no error of the server's."""
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def post_delivery(url: str, payload: dict[str, Any], delivery_id: str) -> int:
    delivery = build_delivery("issues", payload, secret=SECRET, delivery_id=delivery_id)
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.post(f"{url}/webhooks", data=delivery.body, headers=delivery.headers) as answer,
    ):
        return answer.status


async def test_headers_that_do_not_arrive_in_time_are_cut_off(server: Any) -> None:
    url, guard = server
    client = await SlowClient.connect(url)
    assert await client.closed_within(3) == b""
    assert guard.closed_late == 1 and guard.open == 0


async def test_a_body_that_does_not_arrive_in_time_gets_a_408(server: Any) -> None:
    url, _ = server
    client = await SlowClient.connect(url, body_too=True)
    answer = await client.closed_within(3)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"did not arrive within 0.5 s" in answer


async def test_an_idle_keep_alive_connection_is_closed(server: Any) -> None:
    url, guard = server
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 3)
    assert answer.startswith(b"HTTP/1.1 200")
    assert guard.closed_late == 1


async def test_with_every_slot_taken_by_slow_clients_deliveries_are_still_answered(
    serve: Any, store: RunStore, github: GitHubSimulator
) -> None:
    payload = await labeled(github, label="bug")  # a label Patchbot does not act on
    limits = ServerLimits(header_timeout=60, body_timeout=60, max_connections=20, eviction_age=0.2)
    url, guard = await serve(limits)
    slow = [await SlowClient.connect(url, body_too=n % 2 == 0) for n in range(guard.limit)]
    await asyncio.sleep(0.3)  # older than eviction_age
    assert guard.open == guard.limit
    ids = [f"genuine-{n}" for n in range(5)]
    assert [await post_delivery(url, payload, delivery_id) for delivery_id in ids] == [200] * 5
    assert await store.known_deliveries(ids) == set(ids)
    async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz") as health:
        assert health.status == 200
    # The first new connection closed the slow client that had waited longest; the others
    # found the slot the one before them left.
    assert guard.evicted == 1 and guard.open <= guard.limit
    assert await slow[0].closed_within(2) == b""
    for client in slow[1:]:
        with pytest.raises(TimeoutError):
            await client.closed_within(0.01)
        client.writer.close()


async def test_while_every_waiting_connection_is_young_the_newest_one_is_closed(
    serve: Any,
) -> None:
    limits = ServerLimits(header_timeout=60, body_timeout=60, max_connections=5, eviction_age=30)
    url, guard = await serve(limits)
    slow = [await SlowClient.connect(url) for _ in range(guard.limit)]
    await asyncio.sleep(0.1)
    newest = await SlowClient.connect(url)
    assert await newest.closed_within(2) == b""
    assert (guard.refused, guard.evicted, guard.open) == (1, 0, guard.limit)
    for client in slow:
        client.writer.close()
