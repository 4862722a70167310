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
    service          text     NOT NULL,
    tier             smallint NOT NULL,
    bucket_start     bigint   NOT NULL,
    environment      text     NOT NULL,
    version          text     NOT NULL,
    risk_tier        text     NOT NULL,
    business_process text     NOT NULL,
    tasks            bigint   NOT NULL,  -- tasks with an outcome
    successes        bigint   NOT NULL,
    escalated        bigint   NOT NULL,
    llm_calls        bigint   NOT NULL,
    safety_blocks    bigint   NOT NULL,
    tool_calls       bigint   NOT NULL,
    tool_failures    bigint   NOT NULL,
    tool_retries     bigint   NOT NULL,
    rate_limit_hits  bigint   NOT NULL,
    input_tokens     bigint   NOT NULL,
    output_tokens    bigint   NOT NULL,
    success_tokens   bigint   NOT NULL,
    seen             bigint   NOT NULL,  -- every task, with or without an outcome
    cycle            bytea,
    PRIMARY KEY (service, tier, bucket_start, environment, version, risk_tier, business_process)
) WITH (fillfactor = 80);  -- hour and day rows are updated by most commits: keep them HOT
