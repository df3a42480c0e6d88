-- Planner steps and `for_each` items.
--
-- The plans a run's planners added, committed with each planner's success.
-- The definition snapshot stays as the run started; a resume compiles it, then adds these
-- plans in order (their steps are rows of `steps` like any other, from `first_position`).
CREATE TABLE plans (
    run_id          TEXT NOT NULL REFERENCES runs (id),
    -- 1 for the run's first plan, then 2, ...
    seq             INTEGER NOT NULL,
    -- The planner step's id.
    planner         TEXT NOT NULL,
    -- The plan's `steps`, exactly as the planner emitted them (JSON).
    steps           TEXT NOT NULL,
    -- The ids of the steps it added, in plan order (JSON).
    ids             TEXT NOT NULL,
    -- The plan position of the first step it added.
    first_position  INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- `for_each` items, each committed when it ends (group commit batches them), so that after
-- a crash only the items not yet succeeded run again.
CREATE TABLE items (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    -- 'succeeded', 'failed', or 'pending' (sent back by a redrive).
    state       TEXT NOT NULL,
    -- How many times the item ran.
    attempt     INTEGER NOT NULL,
    output      TEXT,
    error       TEXT,
    PRIMARY KEY (run_id, step_id, idx)
) WITHOUT ROWID;
