"""The RunStore interface: runs, feedback on pull requests, webhook deliveries and
installations, durable and shared.

One implementation (`sql_store.SQLRunStore`) on two databases, chosen by `DATABASE_URL`:
SQLite (one machine, the default) and PostgreSQL (many machines; workers claim with
`FOR UPDATE SKIP LOCKED`). Statements are written once (`statements`), the schema has one
migration history (`migrations`), and only the adapters `sqlite_db` and `postgres_db` know
the drivers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from bot.errors import ConfigError
from bot.runs.accounts import Accounts
from bot.runs.flaky import FlakyTest
from bot.runs.models import (
    Delivery,
    Feedback,
    Hold,
    HoldDecision,
    Installation,
    NewFeedback,
    NewRun,
    PullOpened,
    Run,
    RunCounts,
    RunState,
)
from bot.runs.sql import Database
from bot.runs.views import RunViews

GAVE_UP = "its worker stopped {attempts} times without finishing; see the trace, then retry"
STOPPED_BY_REQUEST = "stopped by request"


class RunStore(RunViews, Accounts, Protocol):
    """Durable state shared by the web process and the workers. Every method is atomic.
    The dashboard's read-only views are in `RunViews`; what the KPIs, governance views and
    scheduled evaluations keep and read, in `Accounts`."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""

    async def wait_for_work(self, timeout: float) -> None:
        """Return when a run was queued (on PostgreSQL by any process, on SQLite by this one),
        or after `timeout` seconds."""

    # Deliveries
    async def record_delivery(self, delivery: Delivery) -> bool:
        """Persist a delivery; False when its delivery id was recorded before (a redelivery)."""

    async def get_delivery(self, delivery_id: str) -> Delivery | None: ...

    async def unprocessed_deliveries(
        self, *, received_before: float | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Deliveries not yet handled, oldest first."""

    async def mark_delivery_processed(self, delivery_id: str, error: str | None = None) -> None: ...

    async def list_deliveries(self, *, failed: bool = False, limit: int = 50) -> list[Delivery]:
        """The latest deliveries, newest first; `failed`: only those whose handling failed."""

    async def known_deliveries(self, delivery_ids: Iterable[str]) -> set[str]:
        """Which of these delivery ids are stored."""

    # Triggers
    async def claim_trigger(self, key: str, delivery_id: str | None) -> bool:
        """Record that the trigger `key` (a comment's id, a label event) is acted on: True the
        first time, and for the same delivery again (its handling failed: GitHub redelivers it
        under its id); False for anything else, a replayed body under a new delivery id."""

    async def allow_reply(self, key: str, interval: float) -> bool:
        """True, and remembered, unless a reply under `key` was allowed less than `interval`
        seconds ago."""

    # Installations
    async def save_installation(self, installation: Installation) -> None: ...

    async def delete_installation(self, installation_id: int) -> None: ...

    async def get_installation(self, installation_id: int) -> Installation | None: ...

    # Runs
    async def create_run(self, new: NewRun) -> tuple[Run, bool]:
        """Queue a run: (run, True). The same delivery again gives (its run, False).
        Raises ActiveRunExists when the issue already has a queued or running run."""

    async def get_run(self, run_id: int) -> Run | None: ...

    async def list_runs(self, *, limit: int = 50, state: RunState | None = None) -> list[Run]:
        """Newest first."""

    async def active_run(self, repository: str, issue: int) -> Run | None: ...

    async def run_counts(self) -> RunCounts:
        """Runs by state, the oldest queued run, failed deliveries, pull requests by outcome:
        cheap aggregates."""

    async def spent_since(
        self, since: float, repository: str, installation_id: int, *, excluding: int
    ) -> tuple[float, float]:
        """Model spend (US dollars) of the runs finished since `since` (Unix time), other
        than run `excluding`: (in `repository`, in the installation)."""

    async def latest_run(self, repository: str, issue: int) -> Run | None: ...

    async def runs_ahead(self, run_id: int) -> int:
        """Queued runs that were queued before this one: its place in the queue."""

    async def claim_run(
        self,
        worker: str,
        lease_seconds: float,
        max_attempts: int,
        *,
        per_repository: int = 0,
        per_installation: int = 0,
    ) -> Run | None:
        """Take the oldest queued run whose `not_before` has passed (and whose repository and
        installation run fewer than `per_repository` and `per_installation` runs; 0: no cap),
        or a running one whose lease expired, for `worker`.

        Before claiming, a run whose lease expired after `max_attempts` claims is marked
        failed, and an expired run someone asked to stop is marked cancelled."""

    async def heartbeat(self, run_id: int, worker: str, lease_seconds: float) -> Run:
        """Extend the lease; raises LeaseLost if `worker` no longer holds the run."""

    async def finish_run(
        self,
        run_id: int,
        worker: str,
        state: RunState,
        summary: str = "",
        cost_usd: float | None = 0.0,
    ) -> Run:
        """End a run `worker` holds, adding the attempt's `cost_usd` to the run's (None,
        unknown, makes the run's cost unknown); raises LeaseLost if it does not hold it. A run
        that repeats queues its next in the same transaction (see `bot.runs.evals`)."""

    async def hold_run(
        self,
        run_id: int,
        worker: str,
        content: str,
        summary: str = "",
        cost_usd: float | None = 0.0,
    ) -> Run:
        """Pause a run `worker` holds until a human decides: state awaiting_approval, the
        lease released, `content` kept, the cost added as `finish_run` does. Raises LeaseLost
        if `worker` does not hold it."""

    async def record_pull_request(
        self, run_id: int, url: str, opened: PullOpened | None = None
    ) -> None:
        """Keep the URL of the pull request the run opened or pushed to (whoever holds the
        lease now: the pull request exists either way); with `opened`, a first run's new
        pull request, whose outcome is recorded from then on."""

    async def keep_hold(self, run_id: int, worker: str, content: str) -> None:
        """Keep `content` as the run's hold while `worker` holds the run, its state and any
        decision unchanged: a verified patch outlives a failed publication, and the run's
        next attempt (or a retry) publishes it. Raises LeaseLost if `worker` does not hold
        the run."""

    async def get_hold(self, run_id: int) -> Hold | None: ...

    async def previous_run(self, repository: str, issue: int, run_id: int) -> Run | None:
        """The issue's latest first run (not a revision) older than run `run_id`."""

    async def decide(self, run_id: int, login: str, decision: HoldDecision) -> Run:
        """Record `login`'s decision on a held run: approved queues it again (a worker
        resumes it), rejected cancels it. Raises RunNotFound unless it awaits approval."""

    async def cancel_run(self, run_id: int) -> Run:
        """Stop a run: a queued one is cancelled now; a running one is flagged and its worker
        stops it at its next heartbeat. Raises RunNotFound."""

    async def postpone_run(self, run_id: int, not_before: float) -> Run | None:
        """Move a queued run's not_before to `not_before` if that is later; None when the run
        is not queued any more (a worker took it)."""

    async def pull_runs(self, repository: str, pull_request: int) -> list[Run]:
        """The revision runs of a pull request, oldest first."""

    # Flaky tests
    async def remember_flaky(
        self, repository: str, commit: str, tests: Mapping[str, Sequence[str]]
    ) -> None:
        """Keep each test (id -> every outcome its reruns had) as flaky at `commit`."""

    async def known_flaky(self, repository: str) -> list[FlakyTest]:
        """The repository's tests seen flaky, by test id."""

    # Feedback on Patchbot's pull requests
    async def add_feedback(self, item: NewFeedback) -> bool:
        """Keep one piece of feedback on a pull request; False when it was kept before (same
        repository, pull request, kind and source_id: a redelivery, or the same comment seen
        through two events)."""

    async def take_feedback(
        self, run_id: int, repository: str, pull_request: int
    ) -> list[Feedback]:
        """Give the run every pending item of its pull request, and the people's feedback that
        earlier runs of it took and pushed nothing for (failed, escalated, cancelled); all items
        the run holds, oldest first (a retried attempt of the run gets the same ones again).
        Raises RunNotFound when there is no run `run_id`."""

    async def pending_feedback(self, repository: str, pull_request: int) -> list[Feedback]:
        """Items no run has taken yet, oldest first."""


def sqlite_path(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///"))


async def open_store(database_url: str) -> RunStore:
    """Connect to the store `DATABASE_URL` names and bring its schema up to date."""
    if database_url.startswith("sqlite:///"):
        import sqlite3

        from bot.runs.sqlite_db import SQLiteDatabase

        path = sqlite_path(database_url)
        try:
            return await _opened(await SQLiteDatabase.open(path))
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(
                f"DATABASE_URL: cannot open the SQLite database {path} ({error}).\n"
                "  How to fix: point DATABASE_URL at a writable file, e.g. "
                "sqlite:////var/lib/patchbot/patchbot.db (four slashes: an absolute path; "
                "the folder is created if missing)."
            ) from error
    if database_url.startswith(("postgresql://", "postgres://")):
        import asyncpg

        from bot.runs.postgres_db import PostgresDatabase

        try:
            return await _opened(await PostgresDatabase.open(database_url))
        except (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            where = _without_password(database_url)
            raise ConfigError(
                f"DATABASE_URL: cannot use the PostgreSQL database at {where}"
                f" ({type(error).__name__}: {error}).\n"
                "  How to fix: check that the server runs and accepts connections from here, "
                "that the database exists and that the user may create tables in it."
            ) from error
    raise ConfigError(
        f"DATABASE_URL={database_url.split(':', 1)[0]}:... is not supported; "
        "use sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/DB"
    )


async def _opened(db: Database) -> RunStore:
    """The store on `db`, its schema brought up to date (closed if that fails)."""
    from bot.runs.migrations import migrate
    from bot.runs.sql_store import SQLRunStore

    try:
        await migrate(db)
    except BaseException:
        await db.close()
        raise
    return SQLRunStore(db)


@contextlib.asynccontextmanager
async def opened_store(database_url: str) -> AsyncIterator[RunStore]:
    """`open_store`, closed when the block ends."""
    store = await open_store(database_url)
    try:
        yield store
    finally:
        await store.close()


def _without_password(url: str) -> str:
    """The URL with any password replaced, fit for an error message."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
