"""A sandbox opened ahead of its use: the agent's starts while the baseline's tests run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType

from bot.sandbox.config import SandboxConfig
from bot.sandbox.protocol import Sandbox
from bot.solve.verify import SandboxOpener


class OpenedAhead:
    """Opens `opener(workspace, config)` in a task of its own at once; `async with` it to use
    the sandbox (an error opening it is raised there). `close()` closes it, used or not, and
    may be called more than once."""

    def __init__(self, opener: SandboxOpener, workspace: Path, config: SandboxConfig) -> None:
        self._ready: asyncio.Future[Sandbox] = asyncio.get_running_loop().create_future()
        self._release = asyncio.Event()
        self._task = asyncio.create_task(self._hold(opener, workspace, config))

    async def _hold(self, opener: SandboxOpener, workspace: Path, config: SandboxConfig) -> None:
        opening = opener(workspace, config)
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

    async def __aenter__(self) -> Sandbox:
        return await asyncio.shield(self._ready)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the sandbox; one still opening is let open first, never cancelled midway
        (a container being created when its creation is cancelled would be left behind)."""
        self._release.set()
        try:
            await asyncio.shield(self._task)
        finally:
            if self._ready.done():
                self._ready.exception()  # retrieved: an opening error nobody used is no warning
