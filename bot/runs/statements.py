"""Every statement of the store, once, for both databases (see `bot.runs.sql` for the
`:name` parameters and `{tokens}`); the store passes parameters by these names."""

from __future__ import annotations

from bot.runs.sql import in_list

RUN_FIELDS = (
    "id, repository, issue, requester, trigger_kind, instructions, installation_id, delivery_id, "
    "state, attempts, created_at, updated_at, started_at, finished_at, cost_usd, lease_owner, "
    "lease_expires_at, cancel_requested, summary, pull_request, iteration, not_before, pr_url, "
    "repeat_seconds"
)
FEEDBACK_FIELDS = (
    "id, repository, pull_request, kind, author, body, source_id, path, line, diff_hunk, "
    "review_id, delivery_id, run_id, received_at"
)
HOLD_FIELDS = "run_id, content, held_at, held_by, decision, decided_by, decided_at"
DELIVERY_FIELDS = (
    "delivery_id, event, action, installation_id, payload, received_at, processed_at, error"
)
INSTALLATION_FIELDS = "id, account, repository_selection, repositories, suspended, updated_at"


def placeholders(fields: str) -> str:
    return ", ".join(f":{name}" for name in fields.split(", "))


# Deliveries

RECORD_DELIVERY = (
    f"INSERT INTO deliveries ({DELIVERY_FIELDS}) VALUES ({placeholders(DELIVERY_FIELDS)}) "
    "ON CONFLICT (delivery_id) DO NOTHING"
)
GET_DELIVERY = f"SELECT {DELIVERY_FIELDS} FROM deliveries WHERE delivery_id = :delivery_id"
UNPROCESSED_DELIVERIES = (
    f"SELECT {DELIVERY_FIELDS} FROM deliveries WHERE processed_at IS NULL "
    "AND received_at < :before ORDER BY received_at LIMIT :limit"
)
MARK_DELIVERY_PROCESSED = (
    "UPDATE deliveries SET processed_at = :now, error = :error WHERE delivery_id = :delivery_id"
)
LIST_DELIVERIES = f"SELECT {DELIVERY_FIELDS} FROM deliveries ORDER BY received_at DESC LIMIT :limit"
LIST_FAILED_DELIVERIES = (  # the literal condition, so the partial index deliveries_failed serves
    f"SELECT {DELIVERY_FIELDS} FROM deliveries WHERE error IS NOT NULL "
    "ORDER BY received_at DESC LIMIT :limit"
)
KNOWN_DELIVERIES_AT_ONCE = 500
"""Ids asked about in one statement (SQLite allows 32,766 parameters, PostgreSQL 65,535)."""


def known_deliveries(count: int) -> str:
    """Which of `count` ids (`:id0`, `:id1`, ...) are stored."""
    return f"SELECT delivery_id FROM deliveries WHERE delivery_id IN ({in_list('id', count)})"


# Triggers

CLAIM_TRIGGER = (
    "INSERT INTO triggers (key, delivery_id, seen_at) VALUES (:key, :delivery_id, :now) "
    "ON CONFLICT (key) DO NOTHING"
)
TRIGGER_DELIVERY = "SELECT delivery_id FROM triggers WHERE key = :key"
ALLOW_REPLY = (
    "INSERT INTO triggers (key, seen_at) VALUES (:key, :now) ON CONFLICT (key) "
    "DO UPDATE SET seen_at = excluded.seen_at WHERE triggers.seen_at <= :last_allowed"
)

# Installations

SAVE_INSTALLATION = (
    f"INSERT INTO installations ({INSTALLATION_FIELDS}) "
    f"VALUES ({placeholders(INSTALLATION_FIELDS)}) "
    "ON CONFLICT (id) DO UPDATE SET "
    "account = excluded.account, repository_selection = excluded.repository_selection, "
    "repositories = excluded.repositories, suspended = excluded.suspended, "
    "updated_at = excluded.updated_at"
)
DELETE_INSTALLATION = "DELETE FROM installations WHERE id = :id"
GET_INSTALLATION = f"SELECT {INSTALLATION_FIELDS} FROM installations WHERE id = :id"

# Runs

_NEW_RUN_FIELDS = (
    "repository, issue, requester, trigger_kind, instructions, installation_id, delivery_id, "
    "pull_request, iteration, not_before, repeat_seconds"
)
CREATE_RUN = (
    f"INSERT INTO runs ({_NEW_RUN_FIELDS}, state, created_at, updated_at) "
    f"VALUES ({placeholders(_NEW_RUN_FIELDS)}, 'queued', :now, :now) RETURNING {RUN_FIELDS}"
)
RUN_BY_DELIVERY = f"SELECT {RUN_FIELDS} FROM runs WHERE delivery_id = :delivery_id"
GET_RUN = f"SELECT {RUN_FIELDS} FROM runs WHERE id = :run_id"
LIST_RUNS = (
    f"SELECT {RUN_FIELDS} FROM runs WHERE (CAST(:state AS TEXT) IS NULL OR state = :state) "
    "ORDER BY id DESC LIMIT :limit"
)
ACTIVE_RUN = (
    f"SELECT {RUN_FIELDS} FROM runs WHERE repository = :repository AND issue = :issue "
    "AND state IN ('queued', 'running', 'awaiting_approval')"
)
SPENT_SINCE = (
    "SELECT COALESCE(SUM(CASE WHEN repository = :repository THEN cost_usd END), 0) "
    "AS repository_usd, "
    "COALESCE(SUM(CASE WHEN installation_id = :installation_id THEN cost_usd END), 0) "
    "AS installation_usd FROM runs WHERE finished_at >= :since AND id <> :excluding"
)
LATEST_RUN = (
    f"SELECT {RUN_FIELDS} FROM runs WHERE repository = :repository AND issue = :issue "
    "ORDER BY id DESC LIMIT 1"
)
PREVIOUS_RUN = (
    f"SELECT {RUN_FIELDS} FROM runs WHERE repository = :repository AND issue = :issue "
    "AND id < :run_id AND pull_request IS NULL ORDER BY id DESC LIMIT 1"
)
PULL_RUNS = (
    f"SELECT {RUN_FIELDS} FROM runs WHERE repository = :repository "
    "AND pull_request = :pull_request ORDER BY id"
)
_ENDED = "finished_at = :now, updated_at = :now, lease_owner = NULL, lease_expires_at = NULL"
CANCEL_EXPIRED_STOPPED = (
    f"UPDATE runs SET state = 'cancelled', summary = :stopped, {_ENDED}, cost_usd = NULL "
    "WHERE state = 'running' AND lease_expires_at < :now AND cancel_requested = 1"
)
FAIL_EXPIRED_EXHAUSTED = (
    f"UPDATE runs SET state = 'failed', summary = :gave_up, {_ENDED}, cost_usd = NULL "
    "WHERE state = 'running' AND lease_expires_at < :now AND attempts >= :max_attempts"
)
DEAD_ATTEMPT_COST = "CASE WHEN state = 'running' THEN NULL ELSE cost_usd END"
"""A run's cost as a worker claims it: unknown (NULL) when it takes over from a worker that
died, since that attempt's spend was never recorded; a run whose workers died and that is
failed or cancelled at a claim gets NULL too."""
_UNDER_CAP = (
    "({cap} = 0 OR (SELECT COUNT(*) FROM runs AS busy WHERE busy.{column} = candidate.{column} "
    "AND busy.state = 'running' AND busy.lease_expires_at >= :now) < {cap})"
)
"""A queued run may start while fewer than `cap` runs of its repository (or installation)
run (0: no cap); a run whose worker died no longer counts."""
LOCK_CLAIMS = "SELECT pg_advisory_xact_lock(7365321)"
"""PostgreSQL: claims one after the other (SKIP LOCKED alone would let two workers each see a
repository under its cap and both start a run there)."""
RUNS_AHEAD = (
    "SELECT COUNT(*) AS ahead FROM runs WHERE state = 'queued' AND id < :run_id "
    "AND (repeat_seconds IS NULL OR not_before <= :now)"
)
"""A scheduled run waiting for its time is not ahead of anyone."""
CLAIM_RUN = (
    "UPDATE runs SET state = 'running', lease_owner = :worker, lease_expires_at = :expires, "
    "attempts = attempts + 1, started_at = COALESCE(started_at, :now), updated_at = :now, "
    f"cost_usd = {DEAD_ATTEMPT_COST} "
    "WHERE id = (SELECT id FROM runs AS candidate "
    "WHERE (state = 'queued' AND (not_before IS NULL OR not_before <= :now) "
    f"AND {_UNDER_CAP.format(column='repository', cap=':per_repository')} "
    f"AND {_UNDER_CAP.format(column='installation_id', cap=':per_installation')}) "
    "OR (state = 'running' AND lease_expires_at < :now) ORDER BY id LIMIT 1 {skip_locked}) "
    f"RETURNING {RUN_FIELDS}"
)
_HELD = "id = :run_id AND lease_owner = :worker AND state = 'running'"
_REPEATED = "repository, issue, requester, trigger_kind, instructions, installation_id"


def _repeat(ended: str) -> str:
    """Queue the next of each repeating run that matches `ended`."""
    return (
        f"INSERT INTO runs ({_REPEATED}, repeat_seconds, not_before, state, created_at, "
        f"updated_at) SELECT {_REPEATED}, repeat_seconds, :now + repeat_seconds, 'queued', "
        f":now, :now FROM runs WHERE {ended} AND repeat_seconds IS NOT NULL "
        "ON CONFLICT DO NOTHING"
    )


REPEAT_RUN = _repeat("id = :run_id AND state <> 'cancelled'")
"""A repeating run that ended (not by a stop: stopping it ends the schedule) queues the next,
due `repeat_seconds` later; nothing when its issue has an active run already."""
REPEAT_GIVEN_UP = _repeat("state = 'failed' AND finished_at = :now AND summary = :gave_up")
"""The same for the repeating runs `FAIL_EXPIRED_EXHAUSTED` just gave up on."""
HEARTBEAT = (
    f"UPDATE runs SET lease_expires_at = :expires, updated_at = :now WHERE {_HELD} "
    f"RETURNING {RUN_FIELDS}"
)
FINISH_RUN = (
    f"UPDATE runs SET state = :state, summary = :summary, cost_usd = cost_usd + :cost, {_ENDED} "
    f"WHERE {_HELD} RETURNING {RUN_FIELDS}"
)
HOLD_RUN = (  # a stop asked for meanwhile wins: the run ends instead of waiting
    "UPDATE runs SET state = CASE WHEN cancel_requested = 1 THEN 'cancelled' "
    "ELSE 'awaiting_approval' END, "
    "summary = CASE WHEN cancel_requested = 1 THEN :stopped ELSE :summary END, "
    "finished_at = CASE WHEN cancel_requested = 1 THEN CAST(:now AS DOUBLE PRECISION) END, "
    "cost_usd = cost_usd + :cost, updated_at = :now, lease_owner = NULL, "
    f"lease_expires_at = NULL WHERE {_HELD} RETURNING {RUN_FIELDS}"
)
LOCK_HELD_RUN = f"SELECT id FROM runs WHERE {_HELD} {{for_update}}"
KEEP_HOLD = (
    "INSERT INTO holds (run_id, content, held_at, held_by) VALUES (:run_id, :content, :now, "
    ":worker) ON CONFLICT (run_id) DO UPDATE SET content = excluded.content, "
    "held_at = excluded.held_at, held_by = excluded.held_by"
)
"""Keep the content, any decision as it is."""
HOLD = KEEP_HOLD + ", decision = NULL, decided_by = NULL, decided_at = NULL"
"""Keep the content, to be decided again."""
GET_HOLD = f"SELECT {HOLD_FIELDS} FROM holds WHERE run_id = :run_id"
DECIDE_RUN = (
    "UPDATE runs SET state = :state, summary = :summary, finished_at = :finished, "
    "updated_at = :now, cancel_requested = 0 "
    f"WHERE id = :run_id AND state = 'awaiting_approval' RETURNING {RUN_FIELDS}"
)
DECIDE_HOLD = (
    "UPDATE holds SET decision = :decision, decided_by = :login, decided_at = :now "
    "WHERE run_id = :run_id"
)
LOCK_RUN = "SELECT id FROM runs WHERE id = :run_id {for_update}"
CANCEL_WAITING_RUN = (
    "UPDATE runs SET state = 'cancelled', summary = :stopped, finished_at = :now, "
    "updated_at = :now WHERE id = :run_id AND state IN ('queued', 'awaiting_approval') "
    f"RETURNING {RUN_FIELDS}"
)
FLAG_RUNNING_RUN = (
    "UPDATE runs SET cancel_requested = 1, updated_at = :now "
    f"WHERE id = :run_id AND state = 'running' RETURNING {RUN_FIELDS}"
)
POSTPONE_RUN = (
    "UPDATE runs SET not_before = CASE WHEN not_before IS NULL OR not_before < :not_before "
    "THEN :not_before ELSE not_before END, updated_at = :now "
    f"WHERE id = :run_id AND state = 'queued' RETURNING {RUN_FIELDS}"
)
RECORD_PULL_REQUEST = "UPDATE runs SET pr_url = :url, updated_at = :now WHERE id = :run_id"

# What `/metrics` reports from the store: aggregates the indexes answer (runs_by_state,
# deliveries_failed), read at every scrape.

RUNS_BY_STATE = "SELECT state, COUNT(*) AS runs FROM runs GROUP BY state"
OLDEST_QUEUED = "SELECT MIN(created_at) AS oldest FROM runs WHERE state = 'queued'"
FAILED_DELIVERIES = "SELECT COUNT(*) AS failed FROM deliveries WHERE error IS NOT NULL"

# Feedback on pull requests

_NEW_FEEDBACK_FIELDS = (
    "repository, pull_request, kind, author, body, source_id, path, line, diff_hunk, review_id, "
    "delivery_id, received_at"
)
ADD_FEEDBACK = (
    f"INSERT INTO feedback ({_NEW_FEEDBACK_FIELDS}) VALUES ({placeholders(_NEW_FEEDBACK_FIELDS)}) "
    "ON CONFLICT (repository, pull_request, kind, source_id) DO NOTHING"
)
RETAKEN = (
    "(run_id IS NULL OR (kind <> 'check' AND run_id IN "
    "(SELECT id FROM runs WHERE state IN ('failed', 'escalated', 'cancelled'))))"
)
"""The feedback a revision run takes: pending items, and the people's feedback that earlier
runs took and did not push anything for (a failed check's repair is not asked for again).
On PostgreSQL the UPDATE only claims rows still pending: a concurrent taker blocked on the
same rows re-checks `run_id IS NULL` once the first commits, so no item goes to two runs."""
TAKE_FEEDBACK = (
    "UPDATE feedback SET run_id = :run_id "
    f"WHERE repository = :repository AND pull_request = :pull_request AND {RETAKEN}"
)
RUN_FEEDBACK = (
    f"SELECT {FEEDBACK_FIELDS} FROM feedback WHERE repository = :repository "
    "AND pull_request = :pull_request AND run_id = :run_id ORDER BY id"
)
PENDING_FEEDBACK = (
    f"SELECT {FEEDBACK_FIELDS} FROM feedback WHERE repository = :repository "
    "AND pull_request = :pull_request AND run_id IS NULL ORDER BY id"
)
