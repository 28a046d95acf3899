-- A SQLite database made by the last release's store (main at d005253: migrations 1..5, 7)
-- with rows in every table, as Python's sqlite3 iterdump() wrote it. Never edit: make a new one.
BEGIN TRANSACTION;
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
INSERT INTO "deliveries" VALUES('d-done','issues','labeled',7,'{"n": 1}',100.0,1.79660145987619662287e+09,NULL);
INSERT INTO "deliveries" VALUES('d-failed','issues','labeled',7,'{"n": 1}',100.0,1.79660145988653755181e+09,'boom');
INSERT INTO "deliveries" VALUES('d-new','issues','labeled',7,'{"n": 1}',100.0,NULL,NULL);
CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, 
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
);
INSERT INTO "feedback" VALUES(1,'octo/hello',9,'comment','bob','more tests',5,NULL,NULL,NULL,NULL,NULL,NULL,1.79660145990104937554e+09);
CREATE TABLE holds (
    run_id BIGINT PRIMARY KEY REFERENCES runs (id),
    content TEXT NOT NULL,
    held_at DOUBLE PRECISION NOT NULL,
    held_by TEXT NOT NULL,
    decision TEXT,
    decided_by TEXT,
    decided_at DOUBLE PRECISION
);
INSERT INTO "holds" VALUES(2,'the verified patch',1.79660145990023851396e+09,'w1',NULL,NULL,NULL);
CREATE TABLE installations (
    id BIGINT PRIMARY KEY,
    account TEXT NOT NULL,
    repository_selection TEXT NOT NULL,
    repositories TEXT NOT NULL DEFAULT '[]',
    suspended INTEGER NOT NULL DEFAULT 0,
    updated_at DOUBLE PRECISION NOT NULL
);
INSERT INTO "installations" VALUES(7,'octo','selected','["octo/hello"]',0,1796601459.87565);
CREATE TABLE "runs" (id INTEGER PRIMARY KEY AUTOINCREMENT, 
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
    cost_usd DOUBLE PRECISION DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at DOUBLE PRECISION,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    summary TEXT NOT NULL DEFAULT ''
,
    pull_request INTEGER, iteration INTEGER NOT NULL DEFAULT 0, not_before DOUBLE PRECISION,
    pr_url TEXT);
INSERT INTO "runs" VALUES(1,'octo/hello',1,'alice','label','',7,'d-done','succeeded',1,1.79660145989761948579e+09,1.79660145989896702766e+09,1.79660145989810132978e+09,1.79660145989896702766e+09,0.5,NULL,NULL,0,'opened the pull request',NULL,0,NULL,'https://github.com/octo/hello/pull/9');
INSERT INTO "runs" VALUES(2,'octo/hello',2,'alice','label','',7,NULL,'awaiting_approval',1,1.79660145989953827861e+09,1.79660145990023851396e+09,1.7966014598998327255e+09,NULL,0.125,NULL,NULL,0,'needs approval',NULL,0,NULL,NULL);
INSERT INTO "runs" VALUES(3,'octo/hello',1,'alice','label','',7,NULL,'queued',0,1.79660145990077066424e+09,1.79660145990077066424e+09,NULL,NULL,0.0,NULL,NULL,0,'',9,1,50.0,NULL);
CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at DOUBLE PRECISION NOT NULL
);
INSERT INTO "schema_migrations" VALUES(1,'deliveries, installations and runs',1.79660145985980510712e+09);
INSERT INTO "schema_migrations" VALUES(2,'runs held for a human''s approval',1.79660145986018395425e+09);
INSERT INTO "schema_migrations" VALUES(3,'revision runs of pull requests and the feedback they take',1.79660145986102485655e+09);
INSERT INTO "schema_migrations" VALUES(4,'a run''s cost may be unknown (NULL); the pull request it opened',1.79660145986234426503e+09);
INSERT INTO "schema_migrations" VALUES(5,'failed deliveries listed for an operator',1.79660145986742353441e+09);
INSERT INTO "schema_migrations" VALUES(7,'triggers acted on, and replies made, whatever the delivery id',1.79660145986758446696e+09);
CREATE TABLE triggers (
    key TEXT PRIMARY KEY,
    delivery_id TEXT,
    seen_at DOUBLE PRECISION NOT NULL
);
INSERT INTO "triggers" VALUES('comment-1','d-done',1.79660145989702272413e+09);
CREATE INDEX deliveries_unprocessed ON deliveries (received_at) WHERE processed_at IS NULL;
CREATE INDEX feedback_pending ON feedback (repository, pull_request, id) WHERE run_id IS NULL;
CREATE UNIQUE INDEX runs_one_active_per_issue ON runs (repository, issue)
    WHERE state IN ('queued', 'running', 'awaiting_approval');
CREATE INDEX runs_by_state ON runs (state, lease_expires_at);
CREATE INDEX runs_by_pull_request ON runs (repository, pull_request)
    WHERE pull_request IS NOT NULL;
CREATE INDEX deliveries_failed ON deliveries (received_at) WHERE error IS NOT NULL;
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('runs',3);
INSERT INTO "sqlite_sequence" VALUES('feedback',1);
COMMIT;
