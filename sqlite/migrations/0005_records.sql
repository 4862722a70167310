-- Control-plane objects (rollouts, versions, flag changes, approval requests,
-- incidents, outbox messages) as JSON documents; see day2.Record. Times are Unix
-- nanoseconds; due 0 means nothing is due. key '' means none; any other key is
-- unique within its kind.
-- A rowid table, not WITHOUT ROWID: bodies run to kilobytes, and a primary key
-- b-tree holding whole rows would make every lookup by kind and id wade
-- through them.
CREATE TABLE records (
    rid        INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    service    TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    due        INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    rev        INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (kind, id)
);
CREATE UNIQUE INDEX records_key ON records (kind, key) WHERE key <> '';
-- Listing newest first, by service or not; pending work by state and due time.
CREATE INDEX records_created ON records (kind, created_at);
CREATE INDEX records_service ON records (kind, service, created_at);
CREATE INDEX records_state_due ON records (kind, state, due);
