"""Limits that keep the webhook server answering through slow and many connections.

A request's headers and its body must each arrive within a deadline, and past a number of
open connections the one that has waited longest without sending a whole request is closed to
make room (one that just arrived is left its chance: if none has waited a second, the newest
is closed instead). A genuine delivery arrives in milliseconds (GitHub gives up after 10 s);
a slow or idle connection never finishes, so it is the one closed, and the server never runs
out of file descriptors while deliveries wait at the door.

`create_app` installs the middleware and a `ConnectionGuard`; `LimitedSite` is the TCP site
whose connections the guard watches (`patchbot serve`, the local stack and the benchmark use
it).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)


SWEEP_EVERY = 0.25
"""Seconds between two looks for connections whose headers are late."""
RESERVED_FILES = 384
"""File descriptors kept for what is not a settled connection: connections accepted in
bursts before they are counted (up to the listen backlog, 128, each), closed ones whose
descriptor is released a moment later, the database, logs, calls to GitHub, git and sandbox
processes."""


class ServerLimits(BaseModel):
    """How long a client may take, and how many may be connected at once."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    header_timeout: float = Field(default=10.0, gt=0)
    """Seconds a connection may take to send a request's headers, and stay idle between
    requests."""
    body_timeout: float = Field(default=10.0, gt=0)
    """Seconds a request's body may take to arrive once its headers have (408 after)."""
    max_connections: int | None = Field(default=None, ge=2)
    """Connections open at once; None: the process's open-file limit less RESERVED_FILES,
    at most 10,000."""
    eviction_age: float = Field(default=1.0, ge=0)
    """Seconds a connection must have waited for its request before it may be closed to make
    room; while every waiting one is younger, the newest connection is closed instead. A
    genuine delivery sends its request within milliseconds."""

    def connection_limit(self) -> int:
        if self.max_connections is not None:
            return self.max_connections
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return 10_000
        return max(16, min(10_000, soft - RESERVED_FILES))


class ConnectionGuard:
    """Tracks the open connections of a `LimitedSite`, and when each started waiting for its
    request's headers or body; closes the late ones, and past the limit the oldest waiting."""

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.limit = limits.connection_limit()
        self.closed_late = 0
        """Connections closed because a request's headers did not arrive in time."""
        self.evicted = 0
        """Connections closed to make room for a new one."""
        self.refused = 0
        """New connections closed at once: the limit was reached and none was old enough."""
        self._open: set[asyncio.BaseTransport] = set()
        self._headers: dict[asyncio.BaseTransport, float] = {}
        """Waiting for a request's headers (new, or idle between requests), oldest first."""
        self._body: dict[asyncio.BaseTransport, float] = {}
        """Headers in, waiting for the body (bounded by the middleware), oldest first."""
        self._sweeping: asyncio.TimerHandle | None = None

    @property
    def open(self) -> int:
        return len(self._open)

    def protocol(self, inner: asyncio.Protocol) -> asyncio.Protocol:
        """`inner` (aiohttp's request handler), reporting to the guard."""
        return _Guarded(inner, self)

    def opened(self, transport: asyncio.BaseTransport) -> None:
        """A new connection; past the limit, the one that has waited longest for its request
        is closed if it waited `eviction_age`, else the new one is."""
        self._open.add(transport)
        self.waiting(transport)
        if len(self._open) <= self.limit:
            return
        waiting = [next(iter(d.items())) for d in (self._headers, self._body) if d]
        oldest, since = min(waiting, key=lambda item: item[1], default=(transport, 0.0))
        if oldest is not transport and time.monotonic() - since >= self.limits.eviction_age:
            self.evicted += 1
            self._close(oldest)
        else:
            self.refused += 1
            self._close(transport)

    def closed(self, transport: asyncio.BaseTransport) -> None:
        self._open.discard(transport)
        self._headers.pop(transport, None)
        self._body.pop(transport, None)

    def waiting(self, transport: asyncio.BaseTransport) -> None:
        """The connection waits for a request's headers (new, or between requests)."""
        if transport not in self._open or transport.is_closing():
            return
        self._body.pop(transport, None)
        self._headers.pop(transport, None)
        self._headers[transport] = time.monotonic()
        if self._sweeping is None:
            self._sweeping = asyncio.get_running_loop().call_later(SWEEP_EVERY, self._sweep)

    def reading(self, transport: asyncio.BaseTransport) -> None:
        """Its request's headers arrived; the body has not yet."""
        if transport in self._headers:
            self._body[transport] = self._headers.pop(transport)

    def handling(self, transport: asyncio.BaseTransport) -> None:
        """A whole request arrived: the connection is never closed from here on."""
        self._body.pop(transport, None)

    def _sweep(self) -> None:
        """Close the connections whose request's headers are late (oldest first)."""
        self._sweeping = None
        late = time.monotonic() - self.limits.header_timeout
        while self._headers:
            transport, since = next(iter(self._headers.items()))
            if since > late:
                break
            self.closed_late += 1
            self._close(transport)
        if self._headers:
            self._sweeping = asyncio.get_running_loop().call_later(SWEEP_EVERY, self._sweep)

    def _close(self, transport: asyncio.BaseTransport) -> None:
        self._headers.pop(transport, None)
        self._body.pop(transport, None)
        transport.close()


class _Guarded(asyncio.Protocol):
    """aiohttp's request handler, with the guard told when its connection opens and closes."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._guard.opened(transport)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._guard.closed(self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


GUARD = web.AppKey("connection_guard", ConnectionGuard)


@web.middleware
async def bounded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The body within `body_timeout`, then the handler; the guard follows each request."""
    guard = request.app[GUARD]
    transport = request.transport
    if transport is not None:
        guard.reading(transport)
    try:
        try:
            if not request.content.is_eof():  # a delivery's body has mostly come with it
                async with asyncio.timeout(guard.limits.body_timeout):
                    await request.read()
        except (TimeoutError, ConnectionResetError, RuntimeError) as error:
            if isinstance(error, RuntimeError) and transport and not transport.is_closing():
                raise  # not aiohttp's "Connection closed."
            late = f"the request body did not arrive within {guard.limits.body_timeout:g} s"
            response = web.json_response({"error": late}, status=408)
            response.force_close()
            return response
        if transport is not None:
            guard.handling(transport)
        return await handler(request)
    finally:
        if transport is not None:
            guard.waiting(transport)


class LimitedSite(web.BaseSite):
    """A TCP site on `host:port` whose connections the app's `ConnectionGuard` watches (an
    app without one is served as by `web.TCPSite`)."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, **kwargs: Any) -> None:
        super().__init__(runner, **kwargs)
        self._app_runner = runner
        self._host, self._port = host, port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._app_runner.server
        assert server is not None, "call runner.setup() first"
        guard = self._app_runner.app.get(GUARD)  # an app of create_app's has one

        def connection() -> asyncio.Protocol:
            return server() if guard is None else guard.protocol(server())

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            connection,
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=True,
        )
