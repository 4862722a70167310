-- Rollups: the SLO counters of tasks per bucket of event time (the outcome's
-- time, else the task's end), per service, environment, version, risk tier and
-- business process; see day2.RollupRow. tier is day2.RollupTier: 0 minute,
-- 1 hour, 2 day. One table holds the three tiers, so that a commit writes them
-- with one statement, and the key puts a service's buckets of one tier side by
-- side, so that reading a window is one range scan. bucket_start is the bucket's
-- start in Unix nanoseconds. cycle is the sketch of the cycle times (package
-- sketch, MarshalBinary), NULL when none.
--
-- Commits keep the rows in step with the tasks in the same transaction and
-- delete rows that count nothing any more. Opening a database that had tasks
-- before this migration fills the table from them (RebuildRollups).
CREATE TABLE rollups (
    service          TEXT    NOT NULL,
    tier             INTEGER NOT NULL,
    bucket_start     INTEGER NOT NULL,
    environment      TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    risk_tier        TEXT    NOT NULL,
    business_process TEXT    NOT NULL,
    tasks            INTEGER NOT NULL,  -- tasks with an outcome
    successes        INTEGER NOT NULL,
    escalated        INTEGER NOT NULL,
    llm_calls        INTEGER NOT NULL,
    safety_blocks    INTEGER NOT NULL,
    tool_calls       INTEGER NOT NULL,
    tool_failures    INTEGER NOT NULL,
    tool_retries     INTEGER NOT NULL,
    rate_limit_hits  INTEGER NOT NULL,
    input_tokens     INTEGER NOT NULL,
    output_tokens    INTEGER NOT NULL,
    success_tokens   INTEGER NOT NULL,
    seen             INTEGER NOT NULL,  -- every task, with or without an outcome
    cycle            BLOB,
    PRIMARY KEY (service, tier, bucket_start, environment, version, risk_tier, business_process)
) WITHOUT ROWID;
