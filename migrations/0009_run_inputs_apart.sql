-- A run's input moves out of its `runs` row into a table of its own. SQLite rewrites a whole
-- row on every UPDATE, reading each overflow page of it to build the new one, and the run's
-- row changes with every state it enters and every lease taken, renewed or given up: a
-- run with a 100 MB input read it on each of those and wrote it once more to the WAL, and
-- its creation held five copies of it. The input is written once, when the run is created
-- (new runs store it as a BLOB of UTF-8, written in place like a workflow's definition),
-- and read when the run is.

CREATE TABLE inputs (
    run_id  TEXT PRIMARY KEY NOT NULL REFERENCES runs (id),
    input   TEXT NOT NULL
);
INSERT INTO inputs (run_id, input) SELECT id, input FROM runs ORDER BY rowid;

CREATE TABLE runs_without_input (
    id              TEXT PRIMARY KEY NOT NULL,
    workflow_hash   TEXT NOT NULL REFERENCES workflows (hash),
    workflow_name   TEXT NOT NULL,
    state           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    -- The lease of the engine driving the run (all NULL when nobody holds it).
    lease_owner     TEXT,
    lease_host      TEXT,
    lease_pid       INTEGER,
    lease_pid_start INTEGER,
    lease_expires   INTEGER,
    error_class     TEXT,
    policy_hash     TEXT REFERENCES policies (hash),
    deadline_at     INTEGER,
    output          TEXT,
    error           TEXT
);
INSERT INTO runs_without_input (id, workflow_hash, workflow_name, state, created_at,
        lease_owner, lease_host, lease_pid, lease_pid_start, lease_expires, error_class,
        policy_hash, deadline_at, output, error)
    SELECT id, workflow_hash, workflow_name, state, created_at, lease_owner, lease_host,
        lease_pid, lease_pid_start, lease_expires, error_class, policy_hash, deadline_at,
        output, error
    FROM runs ORDER BY rowid;
DROP TABLE runs;
ALTER TABLE runs_without_input RENAME TO runs;
CREATE INDEX runs_by_state ON runs (state);
