-- Tasks: one row per trace. The summary columns mirror day2.Task; raw holds the
-- spancodec blob of the task's spans and log records until retention purges it.
-- Times are Unix nanoseconds, 0 when unknown.
CREATE TABLE tasks (
    id               INTEGER PRIMARY KEY,
    task_id          BLOB    NOT NULL,          -- the 16-byte trace id
    service          TEXT    NOT NULL,
    environment      TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    business_process TEXT    NOT NULL,
    risk_tier        TEXT    NOT NULL,
    flow_run_id      TEXT    NOT NULL,
    tenant           TEXT    NOT NULL,
    start_time       INTEGER NOT NULL,
    end_time         INTEGER NOT NULL,
    cycle_time_ms    INTEGER,                   -- NULL: unknown
    success          INTEGER,                   -- NULL until an outcome arrived
    escalated        INTEGER,
    reason_code      TEXT    NOT NULL,
    outcome_time     INTEGER NOT NULL,
    llm_calls        INTEGER NOT NULL,
    tool_calls       INTEGER NOT NULL,
    tool_failures    INTEGER NOT NULL,
    tool_retries     INTEGER NOT NULL,
    input_tokens     INTEGER NOT NULL,
    output_tokens    INTEGER NOT NULL,
    safety_blocks    INTEGER NOT NULL,
    rate_limit_hits  INTEGER NOT NULL,
    span_count       INTEGER NOT NULL,
    root_seen        INTEGER NOT NULL,
    raw              BLOB,                      -- NULL once purged
    raw_purged       INTEGER NOT NULL DEFAULT 0 -- 1 once retention dropped raw
);

CREATE UNIQUE INDEX tasks_task_id ON tasks (task_id);
-- Listing newest first, overall and per service; both are scanned backwards.
CREATE INDEX tasks_start ON tasks (start_time, task_id);
CREATE INDEX tasks_service_start ON tasks (service, start_time, task_id);
-- Retention finds the tasks whose raw telemetry is still kept, oldest first,
-- without scanning the ones purged earlier.
CREATE INDEX tasks_raw_end ON tasks (end_time) WHERE raw IS NOT NULL;

-- Task counts per service, environment and version, maintained by every commit
-- so that listing services does not scan tasks.
CREATE TABLE service_versions (
    service     TEXT    NOT NULL,
    environment TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    task_count  INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (service, environment, version)
) WITHOUT ROWID;
