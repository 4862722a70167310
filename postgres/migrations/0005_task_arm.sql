-- The rollout arm a task ran in (day2.Task.Arm): '' outside rollouts, else
-- baseline, candidate or shadow. Shadow tasks are left out of the rollups.
ALTER TABLE tasks ADD COLUMN arm text NOT NULL DEFAULT '';
