"""The SQLite store's hot path: webhook deliveries written in batches by one writer connection.

Handing each statement to aiosqlite's thread costs a thread switch (hundreds of microseconds
on a busy machine), which dominated the acknowledgement time. A batch commit in WAL mode with
`synchronous=NORMAL` takes tens of microseconds, so it runs directly on the event loop; only
when another process holds the write lock does the batch move to a thread and wait there.
Checkpoints (which fsync) are left to the store's aiosqlite thread, off the event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from bot.runs.models import Delivery
from bot.runs.store import DELIVERY_FIELDS

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
        insert = (
            f"INSERT INTO deliveries ({DELIVERY_FIELDS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (delivery_id) DO NOTHING"
        )
        fresh = []
        for d in batch:
            cursor = self._db.execute(
                insert,
                (
                    d.delivery_id,
                    d.event,
                    d.action,
                    d.installation_id,
                    d.payload,
                    d.received_at,
                    d.processed_at,
                    d.error,
                ),
            )
            fresh.append(cursor.rowcount == 1)
        return fresh
