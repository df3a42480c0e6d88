-- The step a redrive from a step (`cairn retry --from STEP`) runs again from, recorded by
-- its first commit and cleared by its last, which moves the run out of `failed` (or
-- `cancelled`): a redrive interrupted between its commits is carried on by the next retry.
ALTER TABLE runs ADD COLUMN redrive_from TEXT;
