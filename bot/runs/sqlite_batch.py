"""The SQLite store's hot path: webhook deliveries written in batches by one writer connection.

Deliveries arrive many at a time; each caller waits for its own row to be committed, but the
rows of all callers waiting at once go into one transaction (group commit).

Handing each statement to aiosqlite's thread costs a thread switch (hundreds of microseconds
on a busy machine), which dominated the acknowledgement time. A batch commit in WAL mode with
`synchronous=NORMAL` takes tens of microseconds, so it runs directly on the event loop; only
when another process holds the write lock does the batch move to a thread and wait there.
Checkpoints (which fsync) are left to the store's aiosqlite thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from bot.runs.models import Delivery
from bot.runs.store import DELIVERY_FIELDS, delivery_values

log = logging.getLogger(__name__)

MARK_DELAY = 0.01
"""Seconds a processed-mark may wait to share a commit with newly received deliveries."""
CHECKPOINT_EVERY = 500
"""Deliveries written between two WAL checkpoints."""
_INSERT = (
    f"INSERT INTO deliveries ({DELIVERY_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (delivery_id) DO NOTHING"
)

Mark = tuple[float, str | None, str]
"""(processed_at, error, delivery_id) of a processed delivery."""

INLINE_BUSY_MS = 0
"""How long a write on the event loop waits for another connection's write lock: not at all;
the batch moves to a thread instead, so the loop never stalls."""


class DeliveryWriter:
    """Inserts new deliveries and marks processed ones, one transaction per batch."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=0")  # the store checkpoints, in its thread
        self._db.execute(f"PRAGMA busy_timeout={INLINE_BUSY_MS}")

    def close(self) -> None:
        self._db.close()

    def write(self, new: Sequence[Delivery], marks: Sequence[Mark]) -> list[bool]:
        """Write the batch; for each new delivery, whether it was not stored before.

        Raises sqlite3.OperationalError ("database is locked") when another process holds
        the write lock for longer than INLINE_BUSY_MS; nothing is written then."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            fresh = self._insert(new)
            if marks:
                self._db.executemany(
                    "UPDATE deliveries SET processed_at = ?, error = ? WHERE delivery_id = ?",
                    marks,
                )
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return fresh

    def write_patiently(self, new: Sequence[Delivery], marks: Sequence[Mark]) -> list[bool]:
        """`write`, waiting up to 30 s for the lock (call it from a thread, not the loop)."""
        self._db.execute("PRAGMA busy_timeout=30000")
        try:
            return self.write(new, marks)
        finally:
            self._db.execute(f"PRAGMA busy_timeout={INLINE_BUSY_MS}")

    def _insert(self, batch: Sequence[Delivery]) -> list[bool]:
        return [self._db.execute(_INSERT, delivery_values(d)).rowcount == 1 for d in batch]


class DeliveryBatcher:
    """Group commit: callers wait for their own row; all rows waiting at once share a commit."""

    def __init__(self, path: Path, checkpoint: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._writer = DeliveryWriter(path)
        self._checkpoint = checkpoint
        self._new: list[tuple[Delivery, asyncio.Future[bool]]] = []
        self._marks: list[tuple[Mark, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._since_checkpoint = 0
        self._checkpointing: asyncio.Task[None] | None = None

    async def record(self, delivery: Delivery) -> bool:
        """Store the delivery; False when its id was stored before."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._new.append((delivery, future))
        self._kick()
        return await future

    async def mark_processed(self, delivery_id: str, error: str | None) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks.append(((time.time(), error, delivery_id), future))
        if len(self._marks) == 1:  # not urgent: ride along with the next deliveries
            asyncio.get_running_loop().call_later(MARK_DELAY, self._kick)
        await future

    async def close(self) -> None:
        for task in (self._flusher, self._checkpointing):
            if task is not None:
                await task
        self._writer.close()

    def _kick(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._new or self._marks:
            new, self._new = self._new, []
            marks, self._marks = self._marks, []
            deliveries = [delivery for delivery, _ in new]
            params = [mark for mark, _ in marks]
            try:
                try:
                    inserted = self._writer.write(deliveries, params)
                except sqlite3.OperationalError:  # another connection holds the write lock
                    inserted = await asyncio.to_thread(
                        self._writer.write_patiently, deliveries, params
                    )
            except sqlite3.Error as error:
                futures: list[asyncio.Future[Any]] = [f for _, f in new]
                futures += [f for _, f in marks]
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, new_future), was_new in zip(new, inserted, strict=True):
                if not new_future.done():
                    new_future.set_result(was_new)
            for _, mark_future in marks:
                if not mark_future.done():
                    mark_future.set_result(None)
            self._since_checkpoint += len(new)
            busy = self._checkpointing is not None and not self._checkpointing.done()
            if self._since_checkpoint >= CHECKPOINT_EVERY and not busy:
                self._since_checkpoint = 0
                self._checkpointing = asyncio.create_task(self._checkpoint())
