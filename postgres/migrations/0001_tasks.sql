-- Tasks: one row per trace. The summary columns mirror day2.Task; raw holds the
-- spancodec blob of the task's spans and log records until retention purges it.
-- Times are Unix nanoseconds, 0 when unknown.
CREATE TABLE tasks (
    id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id          bytea   NOT NULL,          -- the 16-byte trace id
    service          text    NOT NULL,
    environment      text    NOT NULL,
    version          text    NOT NULL,
    business_process text    NOT NULL,
    risk_tier        text    NOT NULL,
    flow_run_id      text    NOT NULL,
    tenant           text    NOT NULL,
    start_time       bigint  NOT NULL,
    end_time         bigint  NOT NULL,
    cycle_time_ms    bigint,                    -- NULL: unknown
    success          boolean,                   -- NULL until an outcome arrived
    escalated        boolean,
    reason_code      text    NOT NULL,
    outcome_time     bigint  NOT NULL,
    llm_calls        integer NOT NULL,
    tool_calls       integer NOT NULL,
    tool_failures    integer NOT NULL,
    tool_retries     integer NOT NULL,
    input_tokens     bigint  NOT NULL,
    output_tokens    bigint  NOT NULL,
    safety_blocks    integer NOT NULL,
    rate_limit_hits  integer NOT NULL,
    span_count       integer NOT NULL,
    root_seen        boolean NOT NULL,
    raw              bytea,                     -- NULL once purged
    raw_purged       boolean NOT NULL DEFAULT false
) WITH (fillfactor = 90);  -- room for updates that touch no index to stay on the page

-- The blob is compressed already; do not let TOAST try again.
ALTER TABLE tasks ALTER COLUMN raw SET STORAGE EXTERNAL;

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
    service     text   NOT NULL,
    environment text   NOT NULL,
    version     text   NOT NULL,
    task_count  bigint NOT NULL,
    first_seen  bigint NOT NULL,
    last_seen   bigint NOT NULL,
    PRIMARY KEY (service, environment, version)
);
