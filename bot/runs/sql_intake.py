"""What the webhook side records, once for both databases: deliveries (the hot path, written
with `Database.write_soon`), the triggers acted on, installations. `SQLRunStore` adds runs."""

from __future__ import annotations

import time
from collections.abc import Iterable

from bot.runs import statements as sql
from bot.runs.models import Delivery, Installation
from bot.runs.rows import (
    delivery_from_row,
    delivery_values,
    installation_from_row,
    installation_values,
)
from bot.runs.sql import Database


class SQLIntakeStore:
    """Deliveries, triggers and installations on a `Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> None:
        await self._db.fetch("SELECT 1")

    async def wait_for_work(self, timeout: float) -> None:
        await self._db.wait_for_work(timeout)

    # Deliveries

    async def record_delivery(self, delivery: Delivery) -> bool:
        return await self._db.write_soon(sql.RECORD_DELIVERY, delivery_values(delivery)) == 1

    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        row = await self._db.one(sql.GET_DELIVERY, {"delivery_id": delivery_id})
        return delivery_from_row(row) if row else None

    async def unprocessed_deliveries(
        self, *, received_before: float | None = None, limit: int = 100
    ) -> list[Delivery]:
        before = received_before if received_before is not None else float("inf")
        rows = await self._db.fetch(sql.UNPROCESSED_DELIVERIES, {"before": before, "limit": limit})
        return [delivery_from_row(row) for row in rows]

    async def mark_delivery_processed(self, delivery_id: str, error: str | None = None) -> None:
        params = {"now": time.time(), "error": error, "delivery_id": delivery_id}
        # Not urgent: it rides along with the next deliveries' commit.
        await self._db.write_soon(sql.MARK_DELIVERY_PROCESSED, params, urgent=False)

    async def list_deliveries(self, *, failed: bool = False, limit: int = 50) -> list[Delivery]:
        statement = sql.LIST_FAILED_DELIVERIES if failed else sql.LIST_DELIVERIES
        return [delivery_from_row(row) for row in await self._db.fetch(statement, {"limit": limit})]

    async def known_deliveries(self, delivery_ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        ids = list(delivery_ids)
        for start in range(0, len(ids), sql.KNOWN_DELIVERIES_AT_ONCE):
            chunk = ids[start : start + sql.KNOWN_DELIVERIES_AT_ONCE]
            params = {f"id{index}": delivery_id for index, delivery_id in enumerate(chunk)}
            rows = await self._db.fetch(sql.known_deliveries(len(chunk)), params)
            found.update(row["delivery_id"] for row in rows)
        return found

    # Triggers

    async def claim_trigger(self, key: str, delivery_id: str | None) -> bool:
        params = {"key": key, "delivery_id": delivery_id, "now": time.time()}
        if await self._db.execute(sql.CLAIM_TRIGGER, params) == 1:
            return True
        row = await self._db.one(sql.TRIGGER_DELIVERY, params)
        return row is not None and delivery_id is not None and row["delivery_id"] == delivery_id

    async def allow_reply(self, key: str, interval: float) -> bool:
        now = time.time()
        params = {"key": key, "now": now, "last_allowed": now - interval}
        return await self._db.execute(sql.ALLOW_REPLY, params) == 1

    # Installations

    async def save_installation(self, installation: Installation) -> None:
        await self._db.execute(sql.SAVE_INSTALLATION, installation_values(installation))

    async def delete_installation(self, installation_id: int) -> None:
        await self._db.execute(sql.DELETE_INSTALLATION, {"id": installation_id})

    async def get_installation(self, installation_id: int) -> Installation | None:
        row = await self._db.one(sql.GET_INSTALLATION, {"id": installation_id})
        return installation_from_row(row) if row else None
