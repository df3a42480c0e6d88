-- The directory a run was started in (the starting engine's working directory, its bytes):
-- where its steps without `with.cwd` run, what a relative `with.cwd` and the guard's `cwd`
-- roots are taken from, and what approvals are bound to, whichever process drives it later
-- (`cairn resume` from another directory, `cairn recover` from cron). NULL for a run
-- recorded before, or by an engine that could not read its directory: the driving engine's
-- directory then, as before. The table is rebuilt so that the output stays the last column
-- (migration 15 says why).

CREATE TABLE runs_with_cwd (
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
    cwd              BLOB,
    error            TEXT,
    -- Last: see migration 15.
    output           TEXT
);
INSERT INTO runs_with_cwd (id, workflow_hash, workflow_name, state, created_at,
        lease_owner, lease_host, lease_pid, lease_pid_start, lease_expires, error_class,
        policy_hash, deadline_at, redrive_from, max_output_bytes, error, output)
    SELECT id, workflow_hash, workflow_name, state, created_at, lease_owner, lease_host,
        lease_pid, lease_pid_start, lease_expires, error_class, policy_hash, deadline_at,
        redrive_from, max_output_bytes, error, output
    FROM runs ORDER BY rowid;
DROP TABLE runs;
ALTER TABLE runs_with_cwd RENAME TO runs;
CREATE INDEX runs_by_state ON runs (state);
