-- A redrive from a planner (or a step before it) takes the plan it committed out of the
-- run: its steps' rows, items and approval requests are deleted (their events stay), and
-- the plan's row is kept, marked, with what its steps had spent (JSON: attempts, steps,
-- usage), which the run's budgets go on counting.
ALTER TABLE plans ADD COLUMN superseded_at INTEGER;
ALTER TABLE plans ADD COLUMN spent TEXT;
