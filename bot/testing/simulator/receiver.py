"""A webhook endpoint for tests: it verifies each delivery's signature as Patchbot does, and
keeps the events, so a test can check what the simulator sent."""

from __future__ import annotations

import contextlib
from types import TracebackType

import gidgethub
from aiohttp import web
from gidgethub import sansio

from bot.testing.loopback import served


class WebhookReceiver:
    """`async with WebhookReceiver(secret) as hooks:` then `github.send_webhooks_to(hooks.url,
    secret)`; verified events land in `hooks.events`, and a bad signature is answered 401."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.events: list[sansio.Event] = []
        self.url = ""
        """`http://127.0.0.1:PORT/webhooks`, once started."""
        self._exit = contextlib.AsyncExitStack()

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            self.events.append(sansio.Event.from_http(request.headers, body, secret=self.secret))
        except gidgethub.ValidationFailure:
            return web.Response(status=401)
        return web.Response(status=202)

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/webhooks", self._hook)
        self.url = f"{await self._exit.enter_async_context(served(app))}/webhooks"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._exit.aclose()
