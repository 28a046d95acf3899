"""A sandbox opened ahead of its use: the agent's as the run starts (the baseline's tests run in
it first), and verification's as the baseline's tests start (on the base, until the patch is
known)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType

from bot.errors import SandboxError
from bot.sandbox.config import SandboxConfig
from bot.sandbox.protocol import Sandbox
from bot.solve.verify import SandboxOpener


class NotUsed(SandboxError):
    """A sandbox opened ahead, closed before its workspace was edited: it is not needed."""


class OpenedAhead:
    """Opens `opener(workspace, config)` in a task of its own at once; `async with` it to use
    the sandbox (an error opening it is raised there). `close()` closes it, used or not, and
    may be called more than once.

    With `edits`, the workspace is still being changed: nothing runs in the sandbox until it
    is used, which says the edits are done (see `SandboxOpener`)."""

    def __init__(
        self,
        opener: SandboxOpener,
        workspace: Path,
        config: SandboxConfig,
        *,
        edits: bool = False,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.workspace = workspace
        self._ready: asyncio.Future[Sandbox] = loop.create_future()
        self._edited: asyncio.Future[None] | None = loop.create_future() if edits else None
        self._release = asyncio.Event()
        self._task = asyncio.create_task(self._hold(opener, workspace, config))

    async def _hold(self, opener: SandboxOpener, workspace: Path, config: SandboxConfig) -> None:
        opening = opener(workspace, config, edited=self._edited)
        try:
            sandbox = await opening.__aenter__()
        except Exception as error:  # raised to whoever uses the sandbox
            self._ready.set_exception(error)
            return
        try:
            self._ready.set_result(sandbox)
            await self._release.wait()
        except BaseException as error:
            if not await opening.__aexit__(type(error), error, error.__traceback__):
                raise
        else:
            await opening.__aexit__(None, None, None)

    async def ready(self) -> Sandbox:
        """The sandbox, once open (the edits are done, if it waited for them); it stays open
        until `close()`."""
        if self._edited is not None and not self._edited.done():
            self._edited.set_result(None)
        return await asyncio.shield(self._ready)

    async def __aenter__(self) -> Sandbox:
        return await self.ready()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the sandbox; one still opening is let open first, never cancelled midway
        (a container being created when its creation is cancelled would be left behind); one
        waiting for edits stops waiting."""
        self._release.set()
        if self._edited is not None and not self._edited.done():
            self._edited.set_exception(NotUsed("closed before it was used"))
        try:
            await asyncio.shield(self._task)
        finally:
            # retrieved: an opening error nobody used is no warning, nor is our own NotUsed
            for future in (self._ready, self._edited):
                if future is not None and future.done():
                    future.exception()
