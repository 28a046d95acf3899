"""The RunStore interface: runs, feedback on pull requests, webhook deliveries and
installations, durable and shared.

Two implementations behind one Protocol, chosen by `DATABASE_URL`: SQLite (one machine, the
default) and PostgreSQL (many machines; workers claim with `FOR UPDATE SKIP LOCKED`).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from bot.errors import ConfigError
from bot.runs.flaky import FlakyTest
from bot.runs.models import (
    Decision,
    Delivery,
    Feedback,
    Hold,
    Installation,
    NewFeedback,
    NewRun,
    Run,
    RunState,
)

NEW_RUN_FIELDS = (
    "repository, issue, requester, trigger_kind, instructions, installation_id, delivery_id, "
    "pull_request, iteration, not_before"
)
"""The columns a NewRun fills, in the order of `new_run_values`."""
RUN_FIELDS = (
    "id, repository, issue, requester, trigger_kind, instructions, installation_id, delivery_id, "
    "state, attempts, created_at, updated_at, started_at, finished_at, cost_usd, lease_owner, "
    "lease_expires_at, cancel_requested, summary, pull_request, iteration, not_before, pr_url"
)
FEEDBACK_FIELDS = (
    "id, repository, pull_request, kind, author, body, source_id, path, line, diff_hunk, "
    "review_id, delivery_id, run_id, received_at"
)
NEW_FEEDBACK_FIELDS = (
    "repository, pull_request, kind, author, body, source_id, path, line, diff_hunk, review_id, "
    "delivery_id, received_at"
)
"""The columns of kept feedback, in the order of `new_feedback_values`."""
RETAKEN = (
    "(run_id IS NULL OR (kind <> 'check' AND run_id IN "
    "(SELECT id FROM runs WHERE state IN ('failed', 'escalated', 'cancelled'))))"
)
"""The feedback a revision run takes: pending items, and the people's feedback that earlier
runs took and did not push anything for (a failed check's repair is not asked for again)."""
_SPENT_SINCE = (
    "SELECT COALESCE(SUM(CASE WHEN repository = {0} THEN cost_usd END), 0), "
    "COALESCE(SUM(CASE WHEN installation_id = {1} THEN cost_usd END), 0) "
    "FROM runs WHERE finished_at >= {2} AND id <> {3}"
)
SPENT_SINCE_SQLITE = _SPENT_SINCE.format("?", "?", "?", "?")
SPENT_SINCE_POSTGRES = _SPENT_SINCE.format("$1", "$2", "$3", "$4")
HOLD_FIELDS = "run_id, content, held_at, held_by, decision, decided_by, decided_at"
DELIVERY_FIELDS = (
    "delivery_id, event, action, installation_id, payload, received_at, processed_at, error"
)
INSTALLATION_FIELDS = "id, account, repository_selection, repositories, suspended, updated_at"
GAVE_UP = "its worker stopped {attempts} times without finishing; see the trace, then retry"
DEAD_ATTEMPT_COST = "CASE WHEN state = 'running' THEN NULL ELSE cost_usd END"
"""A run's cost as a worker claims it: unknown (NULL) when it takes over from a worker that
died, since that attempt's spend was never recorded; a run whose workers died and that is
failed or cancelled at a claim gets NULL too."""
STOPPED_BY_REQUEST = "stopped by request"


class RunStore(Protocol):
    """Durable state shared by the web process and the workers. Every method is atomic."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""

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

    async def spent_since(
        self, since: float, repository: str, installation_id: int, *, excluding: int
    ) -> tuple[float, float]:
        """Model spend (US dollars) of the runs finished since `since` (Unix time), other
        than run `excluding`: (in `repository`, in the installation)."""

    async def latest_run(self, repository: str, issue: int) -> Run | None: ...

    async def claim_run(self, worker: str, lease_seconds: float, max_attempts: int) -> Run | None:
        """Take the oldest queued run whose `not_before` has passed, or a running one whose
        lease expired, for `worker`.

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
        unknown, makes the run's cost unknown); raises LeaseLost if it does not hold it."""

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

    async def record_pull_request(self, run_id: int, url: str) -> None:
        """Keep the URL of the pull request the run opened or pushed to (whoever holds the
        lease now: the pull request exists either way)."""

    async def keep_hold(self, run_id: int, worker: str, content: str) -> None:
        """Keep `content` as the run's hold while `worker` holds the run, its state and any
        decision unchanged: a verified patch outlives a failed publication, and the run's
        next attempt (or a retry) publishes it. Raises LeaseLost if `worker` does not hold
        the run."""

    async def get_hold(self, run_id: int) -> Hold | None: ...

    async def previous_run(self, repository: str, issue: int, run_id: int) -> Run | None:
        """The issue's latest first run (not a revision) older than run `run_id`."""

    async def decide(self, run_id: int, login: str, decision: Decision) -> Run:
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

    # Feedback on Patchbot's pull requests
    async def remember_flaky(
        self, repository: str, commit: str, tests: Mapping[str, Sequence[str]]
    ) -> None:
        """Keep each test (id -> every outcome its reruns had) as flaky at `commit`."""

    async def known_flaky(self, repository: str) -> list[FlakyTest]:
        """The repository's tests seen flaky, by test id."""

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


def run_from_row(row: Any) -> Run:
    data = dict(row)
    data["trigger"] = data.pop("trigger_kind")
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Run.model_validate(data)


def feedback_from_row(row: Any) -> Feedback:
    return Feedback.model_validate(dict(row))


def delivery_from_row(row: Any) -> Delivery:
    return Delivery.model_validate(dict(row))


def installation_from_row(row: Any) -> Installation:
    data = dict(row)
    data["repositories"] = json.loads(data["repositories"])
    data["suspended"] = bool(data["suspended"])
    return Installation.model_validate(data)


def new_run_values(new: NewRun) -> tuple[Any, ...]:
    """The values of NEW_RUN_FIELDS, in order."""
    return (
        new.repository,
        new.issue,
        new.requester,
        new.trigger,
        new.instructions,
        new.installation_id,
        new.delivery_id,
        new.pull_request,
        new.iteration,
        new.not_before,
    )


def new_feedback_values(item: NewFeedback) -> tuple[Any, ...]:
    """The values of NEW_FEEDBACK_FIELDS, in order, received now."""
    return (
        item.repository,
        item.pull_request,
        item.kind,
        item.author,
        item.body,
        item.source_id,
        item.path,
        item.line,
        item.diff_hunk,
        item.review_id,
        item.delivery_id,
        time.time(),
    )


def delivery_values(delivery: Delivery) -> tuple[Any, ...]:
    """The values of DELIVERY_FIELDS, in order."""
    return (
        delivery.delivery_id,
        delivery.event,
        delivery.action,
        delivery.installation_id,
        delivery.payload,
        delivery.received_at,
        delivery.processed_at,
        delivery.error,
    )


def installation_values(installation: Installation) -> tuple[Any, ...]:
    """The values of INSTALLATION_FIELDS, in order, updated now."""
    return (
        installation.id,
        installation.account,
        installation.repository_selection,
        json.dumps(installation.repositories),
        int(installation.suspended),
        time.time(),
    )


def decided(decision: Decision, login: str, now: float) -> tuple[RunState, str, float | None]:
    """A held run's state, summary and finished_at once `login` decided: approved queues it
    again, rejected ends it (cancelled)."""
    if decision == "approved":
        return RunState.QUEUED, f"{decision} by @{login}", None
    return RunState.CANCELLED, f"{decision} by @{login}", now


def sqlite_path(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///"))


async def open_store(database_url: str) -> RunStore:
    """Connect to the store `DATABASE_URL` names and bring its schema up to date."""
    if database_url.startswith("sqlite:///"):
        import sqlite3

        from bot.runs.sqlite_store import SQLiteRunStore

        path = sqlite_path(database_url)
        try:
            return await SQLiteRunStore.open(path)
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(
                f"DATABASE_URL: cannot open the SQLite database {path} ({error}).\n"
                "  How to fix: point DATABASE_URL at a writable file, e.g. "
                "sqlite:////var/lib/patchbot/patchbot.db (four slashes: an absolute path; "
                "the folder is created if missing)."
            ) from error
    if database_url.startswith(("postgresql://", "postgres://")):
        import asyncpg

        from bot.runs.postgres_store import PostgresRunStore

        try:
            return await PostgresRunStore.open(database_url)
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
