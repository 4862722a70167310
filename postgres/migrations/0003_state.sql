-- The control plane's own state: alert states and their history, freeze
-- overrides, and the audit log. Times are Unix nanoseconds; in the alert tables 0
-- means unknown.

-- The current state of every alert, one row per alert key. Keys compare byte by
-- byte (collation "C") so that a key prefix search (LIKE 'prefix%') can use the
-- indexes whatever the database's collation.
CREATE TABLE alert_states (
    key        text   COLLATE "C" PRIMARY KEY,
    source     text   NOT NULL,
    slo        text   NOT NULL,
    service    text   NOT NULL,
    severity   text   NOT NULL,
    state      text   NOT NULL,
    since      bigint NOT NULL,
    details    text   NOT NULL,
    updated_at bigint NOT NULL
);

-- Every change of an alert's state, in the order recorded.
CREATE TABLE alert_transitions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key        text   COLLATE "C" NOT NULL,
    slo        text   NOT NULL,
    service    text   NOT NULL,
    severity   text   NOT NULL,
    from_state text   NOT NULL,
    to_state   text   NOT NULL,
    at         bigint NOT NULL,
    details    text   NOT NULL
);
-- History of one alert (or key prefix), newest first.
CREATE INDEX alert_transitions_key ON alert_transitions (key, id);
-- Retention, oldest first.
CREATE INDEX alert_transitions_at ON alert_transitions (at);

-- Overrides of release freezes; environment '' covers every environment.
CREATE TABLE overrides (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service     text   NOT NULL,
    environment text   NOT NULL,
    actor       text   NOT NULL,
    reason      text   NOT NULL,
    created_at  bigint NOT NULL,
    expires_at  bigint NOT NULL
);
-- The release gate asks for the overrides of one service not yet expired.
CREATE INDEX overrides_service_expires ON overrides (service, expires_at);

-- The append-only, hash-chained audit log. ids are 1, 2, 3, ... without gaps,
-- assigned by the store while it holds the audit advisory lock (a sequence would
-- leave gaps when a transaction rolls back); hash is day2.AuditHash of the row
-- after prev_hash, the hash of the row before (empty for the first). before and
-- after hold JSON exactly as given, as text rather than jsonb, since the hash
-- covers their bytes; cast them to jsonb to query them.
CREATE TABLE audit_log (
    id        bigint PRIMARY KEY CHECK (id > 0),
    at        bigint NOT NULL,
    actor     text   NOT NULL,
    action    text   NOT NULL,
    target    text   NOT NULL,
    reason    text   NOT NULL,
    before    text,            -- NULL: none
    after     text,            -- NULL: none
    prev_hash text   NOT NULL,
    hash      text   NOT NULL
);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_target ON audit_log (target, id);
