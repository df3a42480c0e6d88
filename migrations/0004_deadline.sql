-- The run's deadline (`limits.timeout` from when it started, or from its last redrive), as an
-- absolute time, so that it passes while no engine runs. NULL: no deadline.
ALTER TABLE runs ADD COLUMN deadline_at INTEGER;
