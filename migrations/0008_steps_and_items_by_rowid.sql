-- `steps` and `items`, whose rows hold outputs, become rowid tables keyed as before through
-- a unique index, their big columns last: what migration 7 did for `runs`. In a WITHOUT
-- ROWID table a key lookup compares against whole rows, and SQLite reads the whole of a row
-- that spills to overflow pages to compare it, so every commit that looked a step up beside
-- one with a big output read that output: a 300-step fan-out of 900 KB outputs spent half
-- its time there. The rows are copied in plan order, as a run's creation inserts them.

CREATE TABLE steps_by_rowid (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    position    INTEGER NOT NULL,
    state       TEXT NOT NULL,
    attempt     INTEGER NOT NULL DEFAULT 0,
    fallback    INTEGER NOT NULL DEFAULT 0,
    wake_at     INTEGER,
    progress_at INTEGER,
    usage       TEXT,
    error       TEXT,
    output      TEXT,
    PRIMARY KEY (run_id, step_id)
);
INSERT INTO steps_by_rowid (run_id, step_id, position, state, attempt, fallback, wake_at,
        progress_at, usage, error, output)
    SELECT run_id, step_id, position, state, attempt, fallback, wake_at, progress_at, usage,
        error, output
    FROM steps ORDER BY run_id, position;
DROP TABLE steps;
ALTER TABLE steps_by_rowid RENAME TO steps;

CREATE TABLE items_by_rowid (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    state       TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    error       TEXT,
    output      TEXT,
    PRIMARY KEY (run_id, step_id, idx)
);
INSERT INTO items_by_rowid (run_id, step_id, idx, state, attempt, error, output)
    SELECT run_id, step_id, idx, state, attempt, error, output
    FROM items ORDER BY run_id, step_id, idx;
DROP TABLE items;
ALTER TABLE items_by_rowid RENAME TO items;
