-- The last sign of life of each running step's attempt (an output line of a process, an
-- executor's reported progress), as an absolute time: the heartbeat clock, kept with the
-- step. NULL until the attempt shows one; reset when a new attempt starts.
ALTER TABLE steps ADD COLUMN progress_at INTEGER;
