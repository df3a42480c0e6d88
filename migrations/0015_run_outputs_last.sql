-- A run's output becomes the last column of its row again, after the two columns migrations
-- 12 and 14 added behind it. A big output is written in place: the UPDATE sets a zeroblob
-- of its length, then the text is written into it through the pager (see `in_place.rs`).
-- SQLite builds a record with a zeroblob without allocating its zeros only when nothing
-- but NULLs follows it in the record; with a run's output cap stored after it, every such
-- UPDATE allocated the whole output, so `cairn run` of a run whose output is 270 MB peaked
-- at 1,083 MB instead of 556. `error` goes before it, the lease and the caps before both.

CREATE TABLE runs_output_last (
    id               TEXT PRIMARY KEY NOT NULL,
    workflow_hash    TEXT NOT NULL REFERENCES workflows (hash),
    workflow_name    TEXT NOT NULL,
    state            TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    -- The lease of the engine driving the run (all NULL when nobody holds it).
    lease_owner      TEXT,
    lease_host       TEXT,
    lease_pid        INTEGER,
    lease_pid_start  INTEGER,
    lease_expires    INTEGER,
    error_class      TEXT,
    policy_hash      TEXT REFERENCES policies (hash),
    deadline_at      INTEGER,
    redrive_from     TEXT,
    max_output_bytes INTEGER,
    error            TEXT,
    -- Last: see above.
    output           TEXT
);
INSERT INTO runs_output_last (id, workflow_hash, workflow_name, state, created_at,
        lease_owner, lease_host, lease_pid, lease_pid_start, lease_expires, error_class,
        policy_hash, deadline_at, redrive_from, max_output_bytes, error, output)
    SELECT id, workflow_hash, workflow_name, state, created_at, lease_owner, lease_host,
        lease_pid, lease_pid_start, lease_expires, error_class, policy_hash, deadline_at,
        redrive_from, max_output_bytes, error, output
    FROM runs ORDER BY rowid;
DROP TABLE runs;
ALTER TABLE runs_output_last RENAME TO runs;
CREATE INDEX runs_by_state ON runs (state);
