"""The SQLite database's hot path: small writes (webhook deliveries and their processed-marks)
group-committed by one writer connection.

Deliveries arrive many at a time; each caller waits for its own write to be committed, but the
writes of all callers waiting at once go into one transaction (group commit).

Handing each statement to aiosqlite's thread costs a thread switch (hundreds of microseconds
on a busy machine), which dominated the acknowledgement time. A batch commit in WAL mode with
`synchronous=NORMAL` takes tens of microseconds, so it runs directly on the event loop; only
when another process holds the write lock does the batch move to a thread and wait there.
Checkpoints (which fsync) are left to the store's aiosqlite thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

MARK_DELAY = 0.01
"""Seconds a write that is not urgent (a processed-mark) may wait to share a commit with
newly received deliveries."""
CHECKPOINT_EVERY = 500
"""Writes between two WAL checkpoints."""
INLINE_BUSY_MS = 0
"""How long a write on the event loop waits for another connection's write lock: not at all;
the batch moves to a thread instead, so the loop never stalls."""

Write = tuple[str, tuple[Any, ...]]
"""A compiled statement (`?` placeholders) and its values."""


class BatchWriter:
    """Runs batches of writes, one transaction per batch."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=0")  # the store checkpoints, in its thread
        self._db.execute(f"PRAGMA busy_timeout={INLINE_BUSY_MS}")

    def close(self) -> None:
        self._db.close()

    def write(self, batch: Sequence[Write]) -> list[int]:
        """Run the batch; each write's count of changed rows.

        Raises sqlite3.OperationalError ("database is locked") when another process holds
        the write lock for longer than INLINE_BUSY_MS; nothing is written then."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            counts = [self._db.execute(sql, params).rowcount for sql, params in batch]
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return counts

    def write_patiently(self, batch: Sequence[Write]) -> list[int]:
        """`write`, waiting up to 30 s for the lock (call it from a thread, not the loop)."""
        self._db.execute("PRAGMA busy_timeout=30000")
        try:
            return self.write(batch)
        finally:
            self._db.execute(f"PRAGMA busy_timeout={INLINE_BUSY_MS}")


class Batcher:
    """Group commit: callers wait for their own write; all writes waiting at once share a commit."""

    def __init__(self, path: Path, checkpoint: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._writer = BatchWriter(path)
        self._checkpoint = checkpoint
        self._waiting: list[tuple[Write, asyncio.Future[int]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._lingering = False
        self._since_checkpoint = 0
        self._checkpointing: asyncio.Task[None] | None = None

    async def write(self, write: Write, *, urgent: bool) -> int:
        """Run `write` in the next batch; its count of changed rows. Not `urgent`: the batch
        may wait MARK_DELAY for more writes to ride along with."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._waiting.append((write, future))
        if urgent:
            self._kick()
        elif not self._lingering:
            self._lingering = True
            loop.call_later(MARK_DELAY, self._kick)
        return await future

    async def close(self) -> None:
        for task in (self._flusher, self._checkpointing):
            if task is not None:
                await task
        self._writer.close()

    def _kick(self) -> None:
        self._lingering = False
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._waiting:
            waiting, self._waiting = self._waiting, []
            batch = [write for write, _ in waiting]
            try:
                try:
                    counts = self._writer.write(batch)
                except sqlite3.OperationalError:  # another connection holds the write lock
                    counts = await asyncio.to_thread(self._writer.write_patiently, batch)
            except sqlite3.Error as error:
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), count in zip(waiting, counts, strict=True):
                if not future.done():
                    future.set_result(count)
            self._since_checkpoint += len(batch)
            busy = self._checkpointing is not None and not self._checkpointing.done()
            if self._since_checkpoint >= CHECKPOINT_EVERY and not busy:
                self._since_checkpoint = 0
                self._checkpointing = asyncio.create_task(self._checkpoint())
