-- How many of a step's attempts were cut off before they ended: the engine stopped or died
-- while they ran, or a pause stopped a `for_each` step's attempt short. Such an attempt runs
-- again and is not counted against `retry.max_attempts` (its number still counts, as does
-- the run's `attempts` budget: it may have run).
ALTER TABLE steps ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
