"""The schema's one migration history, for SQLite and PostgreSQL alike.

A store applies, in order, every migration whose number is not yet in its `schema_migrations`
table, all in one transaction (on PostgreSQL under an advisory lock, so one process migrates
at a time). Never edit a released migration: add the next number.

Each migration is one SQL script run on both databases; `{id_column}` becomes each one's
auto-numbered primary key. Where SQLite cannot ALTER (dropping NOT NULL, changing a type), the
migration also gives `sqlite`, the table rebuilt as sqlite.org/lang_altertable describes
("other kinds of table schema changes"), with its indexes created again.

To add a table: append `Migration(<next number>, "<what it is for>", "CREATE TABLE ...;")`
(`{id_column}` for an auto-numbered id; types both databases know: TEXT, INTEGER, BIGINT,
DOUBLE PRECISION), write its statements once in `statements.py`, its row mapping in `rows.py`
and its methods in `sql_store.py` (and the `RunStore` protocol). The test over the last
release's dumps (tests/runs/test_store_upgrade.py) keeps the older history honest.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from bot.runs import evals, flaky
from bot.runs.sql import Database, Dialect


class Migration(NamedTuple):
    version: int
    name: str
    script: str
    """The statements, `;`-separated, with the dialect tokens of `bot.runs.sql`."""
    sqlite: str | None = None
    """SQLite's own script, when `script` is an ALTER that SQLite cannot do."""

    def script_for(self, dialect: Dialect) -> str:
        return self.sqlite if dialect.name == "sqlite" and self.sqlite else self.script


CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at DOUBLE PRECISION NOT NULL
)"""

_RUN_COLUMNS = """
    repository TEXT NOT NULL,
    issue INTEGER NOT NULL,
    requester TEXT NOT NULL,
    trigger_kind TEXT NOT NULL,
    instructions TEXT NOT NULL DEFAULT '',
    installation_id BIGINT,
    delivery_id TEXT UNIQUE,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at DOUBLE PRECISION,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    summary TEXT NOT NULL DEFAULT ''
"""

_COMMON_TABLES = """
CREATE TABLE deliveries (
    delivery_id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    action TEXT,
    installation_id BIGINT,
    payload TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    processed_at DOUBLE PRECISION,
    error TEXT
);
CREATE INDEX deliveries_unprocessed ON deliveries (received_at) WHERE processed_at IS NULL;
CREATE TABLE installations (
    id BIGINT PRIMARY KEY,
    account TEXT NOT NULL,
    repository_selection TEXT NOT NULL,
    repositories TEXT NOT NULL DEFAULT '[]',
    suspended INTEGER NOT NULL DEFAULT 0,
    updated_at DOUBLE PRECISION NOT NULL
);
"""

_RUN_INDEXES = """
CREATE UNIQUE INDEX runs_one_active_per_issue ON runs (repository, issue)
    WHERE state IN ('queued', 'running');
CREATE INDEX runs_by_state ON runs (state, lease_expires_at);
"""

_HOLDS = """
DROP INDEX runs_one_active_per_issue;
CREATE UNIQUE INDEX runs_one_active_per_issue ON runs (repository, issue)
    WHERE state IN ('queued', 'running', 'awaiting_approval');
CREATE TABLE holds (
    run_id BIGINT PRIMARY KEY REFERENCES runs (id),
    content TEXT NOT NULL,
    held_at DOUBLE PRECISION NOT NULL,
    held_by TEXT NOT NULL,
    decision TEXT,
    decided_by TEXT,
    decided_at DOUBLE PRECISION
);
"""

_REVISION_RUNS = """
ALTER TABLE runs ADD COLUMN pull_request INTEGER;
ALTER TABLE runs ADD COLUMN iteration INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN not_before DOUBLE PRECISION;
CREATE INDEX runs_by_pull_request ON runs (repository, pull_request)
    WHERE pull_request IS NOT NULL;
"""

_FEEDBACK_COLUMNS = """
    repository TEXT NOT NULL,
    pull_request INTEGER NOT NULL,
    kind TEXT NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    source_id BIGINT NOT NULL,
    path TEXT,
    line INTEGER,
    diff_hunk TEXT,
    review_id BIGINT,
    delivery_id TEXT,
    run_id BIGINT REFERENCES runs (id),
    received_at DOUBLE PRECISION NOT NULL,
    UNIQUE (repository, pull_request, kind, source_id)
"""

_FAILED_DELIVERIES = """
CREATE INDEX deliveries_failed ON deliveries (received_at) WHERE error IS NOT NULL;
"""

_FEEDBACK_INDEXES = """
CREATE INDEX feedback_pending ON feedback (repository, pull_request, id) WHERE run_id IS NULL;
"""

_RUN_COLUMNS_4 = _RUN_COLUMNS.replace(
    "cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0", "cost_usd DOUBLE PRECISION DEFAULT 0"
)
_RUN_FIELDS_3 = (
    "id, repository, issue, requester, trigger_kind, instructions, installation_id, "
    "delivery_id, state, attempts, created_at, updated_at, started_at, finished_at, cost_usd, "
    "lease_owner, lease_expires_at, cancel_requested, summary, pull_request, iteration, "
    "not_before"
)
# SQLite cannot drop a NOT NULL constraint: the table is rebuilt (sqlite.org/lang_altertable,
# "other kinds of table schema changes"); the store never turns foreign keys on.
_COST_AND_PULL_REQUEST_SQLITE = f"""
CREATE TABLE runs_4 (id INTEGER PRIMARY KEY AUTOINCREMENT, {_RUN_COLUMNS_4},
    pull_request INTEGER, iteration INTEGER NOT NULL DEFAULT 0, not_before DOUBLE PRECISION,
    pr_url TEXT);
INSERT INTO runs_4 ({_RUN_FIELDS_3}) SELECT {_RUN_FIELDS_3} FROM runs;
DROP TABLE runs;
ALTER TABLE runs_4 RENAME TO runs;
CREATE UNIQUE INDEX runs_one_active_per_issue ON runs (repository, issue)
    WHERE state IN ('queued', 'running', 'awaiting_approval');
CREATE INDEX runs_by_state ON runs (state, lease_expires_at);
CREATE INDEX runs_by_pull_request ON runs (repository, pull_request)
    WHERE pull_request IS NOT NULL;
"""

_TRIGGERS = """
CREATE TABLE triggers (
    key TEXT PRIMARY KEY,
    delivery_id TEXT,
    seen_at DOUBLE PRECISION NOT NULL
);
"""

_PULL_OUTCOMES = """
CREATE TABLE pull_outcomes (
    repository TEXT NOT NULL,
    pull_request INTEGER NOT NULL,
    issue INTEGER NOT NULL,
    run_id BIGINT,
    installation_id BIGINT,
    branch TEXT,
    first_head_sha TEXT,
    opened_at DOUBLE PRECISION,
    state TEXT NOT NULL,
    merged_at DOUBLE PRECISION,
    merged_by TEXT,
    merge_commit_sha TEXT,
    closed_at DOUBLE PRECISION,
    closed_by TEXT,
    ci_first_push TEXT,
    human_pushes INTEGER NOT NULL DEFAULT 0,
    last_human_sha TEXT,
    reverted_at DOUBLE PRECISION,
    revert_sha TEXT,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (repository, pull_request)
);
CREATE INDEX pull_outcomes_open ON pull_outcomes (repository, pull_request) WHERE state = 'open';
CREATE INDEX runs_by_created ON runs (created_at);
"""

_ACCOUNTING = """
CREATE TABLE run_facts (
    run_id BIGINT PRIMARY KEY,
    escalation_reason TEXT,
    refused_candidates INTEGER NOT NULL DEFAULT 0,
    policy_digest TEXT,
    autonomy_paths TEXT,
    verdict TEXT,
    pr_opened_at DOUBLE PRECISION,
    recorded_at DOUBLE PRECISION NOT NULL
);
ALTER TABLE pull_outcomes ADD COLUMN changed_files TEXT;
CREATE INDEX pull_outcomes_by_run ON pull_outcomes (run_id);
CREATE TABLE cycle_time_baselines (
    repository TEXT PRIMARY KEY,
    median_s DOUBLE PRECISION,
    samples INTEGER NOT NULL,
    scanned INTEGER NOT NULL,
    computed_at DOUBLE PRECISION NOT NULL
);
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "deliveries, installations and runs",
        _COMMON_TABLES + f"CREATE TABLE runs ({{id_column}}, {_RUN_COLUMNS});" + _RUN_INDEXES,
    ),
    Migration(2, "runs held for a human's approval", _HOLDS),
    Migration(
        3,
        "revision runs of pull requests and the feedback they take",
        _REVISION_RUNS
        + f"CREATE TABLE feedback ({{id_column}}, {_FEEDBACK_COLUMNS});"
        + _FEEDBACK_INDEXES,
    ),
    Migration(
        4,
        "a run's cost may be unknown (NULL); the pull request it opened",
        "ALTER TABLE runs ALTER COLUMN cost_usd DROP NOT NULL; "
        "ALTER TABLE runs ADD COLUMN pr_url TEXT;",
        sqlite=_COST_AND_PULL_REQUEST_SQLITE,
    ),
    Migration(5, "failed deliveries listed for an operator", _FAILED_DELIVERIES),
    Migration(7, "triggers acted on, and replies made, whatever the delivery id", _TRIGGERS),
    Migration(8, "flaky tests remembered per repository, with the commit", flaky.MIGRATION),
    Migration(9, "what became of each pull request Patchbot opened", _PULL_OUTCOMES),
    Migration(10, "runs that repeat, and the results of scheduled evaluations", evals.MIGRATION),
    Migration(
        11,
        "each ended run's facts for the KPIs, the files a pull request changed, and the "
        "people's cycle time the KPIs compare with",
        _ACCOUNTING,
    ),
)
_MIGRATION_LOCK = 0x7061_7463  # pg_advisory_xact_lock key: one migrating process at a time


async def migrate(db: Database) -> None:
    """Bring the database's schema up to date."""
    async with db.transaction() as session:
        if db.dialect.name == "postgresql":
            await session.execute("SELECT pg_advisory_xact_lock(:key)", {"key": _MIGRATION_LOCK})
        await session.execute(CREATE_MIGRATIONS_TABLE)
        applied = await session.fetch("SELECT version FROM schema_migrations")
        for migration in pending({row["version"] for row in applied}):
            for statement in statements(migration.script_for(db.dialect)):
                await session.execute(statement)
            await session.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) "
                "VALUES (:version, :name, :applied_at)",
                {"version": migration.version, "name": migration.name, "applied_at": time.time()},
            )


def pending(applied: set[int]) -> list[Migration]:
    """The migrations not yet applied, in order."""
    return [migration for migration in MIGRATIONS if migration.version not in applied]


def statements(script: str) -> list[str]:
    """A script split into statements (the scripts hold no `;` inside literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]
