-- The time indexes are keyed by ten-second bucket, then by row id (the order
-- tasks arrive in), instead of by exact time. Tasks arrive out of start-time
-- order, by as much as their running time and the exporters' delays, so an
-- index on the exact start time takes every new task at a random place in the
-- last minutes' range: a commit of a few thousand tasks dirtied a page of each
-- time index per task (three quarters of the WAL under sustained ingest). Keyed
-- by (bucket, id), new tasks go to the end of their bucket's range: a commit
-- dirties about one page per bucket it touches. Listing newest first reads the
-- buckets newest first and sorts each one by exact time; the indexes cover that
-- sort and the list filters, so only the tasks of the page are read from the
-- table.
ALTER TABLE tasks ADD COLUMN start_bucket INTEGER GENERATED ALWAYS AS (start_time / 10000000000) VIRTUAL;
ALTER TABLE tasks ADD COLUMN end_bucket INTEGER GENERATED ALWAYS AS (end_time / 10000000000) VIRTUAL;
DROP INDEX tasks_start;
DROP INDEX tasks_service_start;
DROP INDEX tasks_raw_end;
CREATE INDEX tasks_start ON tasks (start_bucket, id, start_time, task_id, environment, version);
CREATE INDEX tasks_service_start ON tasks (service, start_bucket, id, start_time, task_id, environment, version);
-- Retention finds the tasks whose raw telemetry is still kept by end bucket.
CREATE INDEX tasks_raw_end ON tasks (end_bucket, id) WHERE raw IS NOT NULL;
