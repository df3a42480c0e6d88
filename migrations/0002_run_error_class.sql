-- The class of a run's error (`timeout`, `cancelled`, the failed step's class, ...), so that
-- a report read back from the database is as typed as the one the engine returned.
ALTER TABLE runs ADD COLUMN error_class TEXT;
