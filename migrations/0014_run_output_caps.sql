-- The cap on one step's output (bytes of JSON) a run is driven with: the one it started
-- with, or the one a resume or retry was explicitly given since (`--max-output`), so that
-- a run taken over after a crash is capped as it was. NULL: a run created before this
-- column, which keeps the cap of the engine driving it.
ALTER TABLE runs ADD COLUMN max_output_bytes INTEGER;
