-- The task-id index moves out of the tasks table: new tasks are found through an
-- in-memory map until a background step inserts their ids here in sorted
-- batches, so an index page is written once per batch instead of once per task.
-- indexed_through is the highest tasks.id whose id is in task_ids; tasks after it
-- are read back into the map at start.
CREATE TABLE task_ids (
    task_id BLOB    NOT NULL PRIMARY KEY,
    id      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO task_ids (task_id, id) SELECT task_id, id FROM tasks;
DROP INDEX tasks_task_id;

CREATE TABLE task_ids_state (indexed_through INTEGER NOT NULL);
INSERT INTO task_ids_state (indexed_through) SELECT coalesce(max(id), 0) FROM tasks;
