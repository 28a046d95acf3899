"""Turns persisted deliveries into handler calls, after the webhook has been answered.

The web entry hands each new delivery over in memory (the fast path). Whatever that misses
(the process died after answering, a handler crashed the task) is still unprocessed in the
store: `recover()` handles it at start-up and a periodic sweep picks up stragglers, so
nothing acknowledged is lost. Run creation is idempotent per delivery id, so handling a
delivery twice never makes a second run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import orjson
from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.handlers.outcomes import on_default_branch
from bot.logs import log_context
from bot.runs.models import Delivery
from bot.runs.store import RunStore
from bot.settings import Settings

log = logging.getLogger(__name__)

ACK_PRIORITY = 0.1
"""Seconds handling may wait for webhook answers in progress to be sent first."""

GitHubFactory = Callable[[int], Awaitable[GitHubAPI]]
"""`async (installation_id) -> GitHubAPI` acting as that installation of the App."""


class Dispatcher:
    """Background processing of deliveries: `router.dispatch(event, gh, store=, settings=)`."""

    def __init__(
        self,
        store: RunStore,
        settings: Settings,
        github: GitHubFactory,
        router: routing.Router,
        *,
        concurrency: int = 8,
    ) -> None:
        self.store = store
        self.settings = settings
        self.github = github
        self.router = router
        self._pending: list[tuple[str, sansio.Event]] = []  # submitted, not yet started
        self._arrived = asyncio.Event()
        self._in_flight: set[str] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._unfinished = 0  # submitted and not yet processed
        self._submitted: set[str] = set()  # ids of those, which recover() must leave alone
        self._answering = 0  # webhook answers in progress
        self._answered = asyncio.Event()
        self._answered.set()

    def handles(self, event: sansio.Event) -> bool:
        """Whether any handler is registered for this event (and action); a push only when it
        is to the default branch (every push of every branch would fill the store)."""
        if event.event == "push" and not on_default_branch(event.data):
            return False
        return bool(self.router.fetch(event))

    def submit(self, delivery_id: str, event: sansio.Event) -> None:
        """Queue a delivery that has just been persisted."""
        self._unfinished += 1
        self._submitted.add(delivery_id)
        self._pending.append((delivery_id, event))
        self._arrived.set()

    @property
    def backlog(self) -> int:
        return self._unfinished

    async def process(
        self,
        delivery_id: str,
        event: sansio.Event,
        *,
        handled: Callable[[], None] | None = None,
    ) -> None:
        """Run the handlers of one delivery, then mark it processed (with its error, if any).

        `handled` is called once the handlers are done, before the mark is committed."""
        if delivery_id in self._in_flight:
            return
        self._in_flight.add(delivery_id)
        with log_context(delivery_id=delivery_id, **_about(event.data)):
            error = await self._handle(delivery_id, event, handled)
        await self.store.mark_delivery_processed(delivery_id, error)

    async def _handle(
        self, delivery_id: str, event: sansio.Event, handled: Callable[[], None] | None
    ) -> str | None:
        """Run the handlers; the error to record, if any."""
        extra = {"delivery_id": delivery_id}
        error: str | None = None
        try:
            installation = event.data.get("installation") or {}
            if "id" not in installation:
                error = "the payload names no installation; only GitHub App deliveries are handled"
                log.warning("delivery %s: %s", delivery_id, error, extra=extra)
            else:
                gh = await self.github(int(installation["id"]))
                await self.router.dispatch(event, gh, store=self.store, settings=self.settings)
        except asyncio.CancelledError:
            raise  # left unprocessed: handled again at the next start-up
        except Exception as failure:  # one bad delivery must not stop the others
            error = f"{type(failure).__name__}: {failure}"
            log.exception("delivery %s failed in its handlers", delivery_id, extra=extra)
        finally:
            self._in_flight.discard(delivery_id)
            if handled is not None:
                handled()
        return error

    async def process_stored(
        self, delivery: Delivery, *, handled: Callable[[], None] | None = None
    ) -> None:
        """`process` a delivery read back from the store."""
        try:
            data = orjson.loads(delivery.payload)
        except orjson.JSONDecodeError as failure:
            if handled is not None:
                handled()
            await self.store.mark_delivery_processed(delivery.delivery_id, f"bad JSON: {failure}")
            return
        event = sansio.Event(data, event=delivery.event, delivery_id=delivery.delivery_id)
        await self.process(delivery.delivery_id, event, handled=handled)

    async def recover(self, *, received_before: float | None = None) -> int:
        """Process every delivery left unprocessed (by default: all of them); how many.

        They are handled as many at once as submitted ones are (`concurrency`), not one after
        the other: each waits for its processed-mark to be committed, which may take
        MARK_DELAY, so a backlog processed in turn would go at a hundred a second."""
        done = 0
        while True:
            backlog = await self.store.unprocessed_deliveries(
                received_before=received_before, limit=100
            )
            backlog = [
                d
                for d in backlog
                if d.delivery_id not in self._in_flight and d.delivery_id not in self._submitted
            ]
            if not backlog:
                return done
            tasks = []
            for delivery in backlog:
                await self._slots.acquire()
                processing = partial(self.process_stored, delivery)
                tasks.append(asyncio.create_task(self._in_slot(processing)))
            # All to their end, even when one fails (the store went away): none cut short.
            failures = [
                error
                for error in await asyncio.gather(*tasks, return_exceptions=True)
                if isinstance(error, BaseException)
            ]
            if failures:
                raise failures[0]
            done += len(backlog)

    async def run(self, *, sweep_seconds: float | None = None) -> None:
        """Process queued deliveries until cancelled; first recover what an earlier process left.

        Every `sweep_seconds` (default: the lease), deliveries still unprocessed that long
        after they arrived are processed too (a crashed handler task, another replica's)."""
        # Deliveries received from now on come through the queue; recover the ones before.
        recovered = await self.recover(received_before=time.time())
        if recovered:
            log.info("processed %d deliveries left from before the start", recovered)
        sweeping = asyncio.create_task(self._sweep(sweep_seconds or self.settings.lease_seconds))
        try:
            while True:
                await self._arrived.wait()
                await self._answers_sent()
                self._arrived.clear()
                batch, self._pending = self._pending, []
                for delivery_id, event in batch:
                    await self._slots.acquire()
                    task = asyncio.create_task(self._process_in_slot(delivery_id, event))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            for task in (sweeping, *self._tasks):
                task.cancel()
            for task in (sweeping, *self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def answering(self) -> None:
        """A webhook answer begins (the web entry calls `answered` when it is sent). While
        answers are being made, handling waits (up to ACK_PRIORITY seconds), so a burst of
        deliveries is acknowledged first."""
        self._answering += 1
        self._answered.clear()

    def answered(self) -> None:
        self._answering -= 1
        if not self._answering:
            self._answered.set()

    async def _answers_sent(self) -> None:
        if self._answered.is_set():  # the common case: no timer to arm
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ACK_PRIORITY):
                await self._answered.wait()

    async def _sweep(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.recover(received_before=time.time() - every)
            except Exception:  # the store is unreachable now; the next sweep tries again
                log.exception("sweeping unprocessed deliveries failed")

    async def _process_in_slot(self, delivery_id: str, event: sansio.Event) -> None:
        try:
            await self._in_slot(partial(self.process, delivery_id, event))
        finally:
            self._unfinished -= 1
            self._submitted.discard(delivery_id)

    async def _in_slot(self, process: Callable[..., Awaitable[None]]) -> None:
        """`process(handled=...)` in a slot taken beforehand, freed once the handlers are done
        (the slot is for handling; waiting for the processed-mark needs none)."""
        released = False

        def free_slot() -> None:
            nonlocal released
            if not released:
                released = True
                self._slots.release()

        try:
            await process(handled=free_slot)
        finally:
            free_slot()

    async def drain(self) -> None:
        """Wait until every queued delivery has been processed (for tests and shutdown)."""
        while self._unfinished or self._in_flight:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def _about(data: dict[str, Any]) -> dict[str, object]:
    """The repository and the issue or pull request a payload is about, for its log lines."""
    repository, thread = data.get("repository"), data.get("issue") or data.get("pull_request")
    return {
        "repo": repository.get("full_name") if isinstance(repository, dict) else None,
        "issue": thread.get("number") if isinstance(thread, dict) else None,
    }
