-- Control-plane objects (rollouts, versions, flag changes, approval requests,
-- incidents, outbox messages) as JSON documents; see day2.Record. Times are Unix
-- nanoseconds; due 0 means nothing is due. key '' means none; any other key is
-- unique within its kind.
CREATE TABLE records (
    kind       text    NOT NULL,
    id         text    NOT NULL,
    key        text    NOT NULL,
    service    text    NOT NULL,
    state      text    NOT NULL,
    due        bigint  NOT NULL,
    body       text    NOT NULL,
    rev        bigint  NOT NULL,
    created_at bigint  NOT NULL,
    updated_at bigint  NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE UNIQUE INDEX records_key ON records (kind, key) WHERE key <> '';
-- Listing newest first, by service or not; pending work by state and due time.
CREATE INDEX records_created ON records (kind, created_at);
CREATE INDEX records_service ON records (kind, service, created_at);
CREATE INDEX records_state_due ON records (kind, state, due);
