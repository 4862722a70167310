-- The control plane's own state: alert states and their history, freeze
-- overrides, and the audit log. Times are Unix nanoseconds; in the alert tables 0
-- means unknown.

-- The current state of every alert, one row per alert key.
CREATE TABLE alert_states (
    key        TEXT    NOT NULL PRIMARY KEY,
    source     TEXT    NOT NULL,
    slo        TEXT    NOT NULL,
    service    TEXT    NOT NULL,
    severity   TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    since      INTEGER NOT NULL,
    details    TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Every change of an alert's state, in the order recorded.
CREATE TABLE alert_transitions (
    id         INTEGER PRIMARY KEY,
    key        TEXT    NOT NULL,
    slo        TEXT    NOT NULL,
    service    TEXT    NOT NULL,
    severity   TEXT    NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    details    TEXT    NOT NULL
);
-- History of one alert (or key prefix), newest first.
CREATE INDEX alert_transitions_key ON alert_transitions (key, id);
-- Retention, oldest first.
CREATE INDEX alert_transitions_at ON alert_transitions (at);

-- Overrides of release freezes; environment '' covers every environment.
CREATE TABLE overrides (
    id          INTEGER PRIMARY KEY,
    service     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
-- The release gate asks for the overrides of one service not yet expired.
CREATE INDEX overrides_service_expires ON overrides (service, expires_at);

-- The append-only, hash-chained audit log. ids are 1, 2, 3, ... without gaps,
-- assigned by the store under the write lock; hash is day2.AuditHash of the row
-- after prev_hash, the hash of the row before (empty for the first). before and
-- after hold JSON exactly as given, since the hash covers their bytes.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY CHECK (id > 0),
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    target    TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    before    TEXT,            -- NULL: none
    after     TEXT,            -- NULL: none
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_target ON audit_log (target, id);
