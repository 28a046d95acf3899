"""Clean-up that need not delay a run: removing its sandboxes and its temporary checkouts.

A caller that will wait for it later (the worker, before it records a run's end) opens a
`Deferred` with `deferring()`; the clean-up started inside then runs in the background, each
step after the ones handed over before it (a checkout folder goes only once the sandboxes
that mounted it are gone). With no `Deferred` open (`patchbot solve`, `patchbot eval`,
tests), `clean_up` does the work at once, as before. Either way the clean-up runs to its end
even when its caller is cancelled; a process killed meanwhile leaves it to the sweep
(`bot.sandbox.cleanup`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Deferred:
    """Clean-up steps running in the background, in the order they were handed over."""

    def __init__(self) -> None:
        self._last: asyncio.Task[None] | None = None

    def add(self, step: Coroutine[Any, Any, None]) -> None:
        """Run `step` once the steps handed over before it have ended."""
        self._last = asyncio.ensure_future(_after(self._last, step))

    async def wait(self) -> None:
        """Until every step handed over so far has ended; a step's failure is logged."""
        last = self._last
        if last is not None:
            await asyncio.gather(asyncio.shield(last), return_exceptions=True)


async def _after(previous: asyncio.Task[None] | None, step: Coroutine[Any, Any, None]) -> None:
    if previous is not None:
        await asyncio.gather(previous, return_exceptions=True)
    try:
        await step
    except Exception:  # the sweep removes what a failed clean-up left
        log.warning("a deferred clean-up failed", exc_info=True)


_DEFERRED: contextvars.ContextVar[Deferred | None] = contextvars.ContextVar(
    "patchbot_deferred_cleanup", default=None
)


def deferring(deferred: Deferred) -> contextvars.Context:
    """A context in which `clean_up` hands its steps to `deferred`: start the run's task in it
    (`asyncio.create_task(..., context=...)`), and `await deferred.wait()` after it."""
    context = contextvars.copy_context()
    context.run(_DEFERRED.set, deferred)
    return context


async def clean_up(step: Coroutine[Any, Any, None]) -> None:
    """Run `step` now, or hand it to the open `Deferred`. Run now, it ends even if the caller
    is cancelled meanwhile (the cancellation is raised after it)."""
    deferred = _DEFERRED.get()
    if deferred is not None:
        deferred.add(step)
        return
    await to_the_end(step)


async def to_the_end(step: Awaitable[T]) -> T:
    """Await `step` to its end even when the caller is cancelled meanwhile (the cancellation
    is raised after it): a removal cut short would leave a container or a mount behind."""
    running = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await running
        raise


@contextlib.asynccontextmanager
async def temporary_folder(prefix: str, parent: Path | None) -> AsyncIterator[Path]:
    """A temporary folder for checkouts that sandboxes mount; removed after those sandboxes
    (both handed to `clean_up`). Files the sandbox's user made that this process may not
    delete are left for the system's temporary-folder clean-up and the sweep."""
    folder = tempfile.TemporaryDirectory(prefix=prefix, dir=parent, ignore_cleanup_errors=True)
    try:
        yield Path(folder.name)
    finally:
        await clean_up(asyncio.to_thread(folder.cleanup))
