-- cairn's initial schema. Times are milliseconds since the Unix epoch (UTC).

-- The exact definition each run started with, by hash: a run resumes with its snapshot,
-- never with the file as edited since.
CREATE TABLE workflows (
    hash        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    definition  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    workflow_hash   TEXT NOT NULL REFERENCES workflows (hash),
    workflow_name   TEXT NOT NULL,
    state           TEXT NOT NULL,
    input           TEXT NOT NULL,
    output          TEXT,
    error           TEXT,
    -- When the run last changed is the time of its last event.
    created_at      INTEGER NOT NULL,
    -- The lease of the engine driving the run (all NULL when nobody holds it).
    lease_owner     TEXT,
    lease_host      TEXT,
    lease_pid       INTEGER,
    lease_pid_start INTEGER,
    lease_expires   INTEGER
) WITHOUT ROWID;

CREATE INDEX runs_by_state ON runs (state);

-- The current state of each step of each run (the event log has the history).
CREATE TABLE steps (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    -- The step's place in the plan (depth-first file order), for listing.
    position    INTEGER NOT NULL,
    state       TEXT NOT NULL,
    attempt     INTEGER NOT NULL DEFAULT 0,
    -- 0 while the step runs its own `with`; k while it runs its k-th fallback.
    fallback    INTEGER NOT NULL DEFAULT 0,
    output      TEXT,
    error       TEXT,
    wake_at     INTEGER,
    usage       TEXT,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;

-- Append-only history: one row per transition, numbered per run.
CREATE TABLE events (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    step_id     TEXT,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    attempt     INTEGER,
    detail      TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE approvals (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    step_id     TEXT NOT NULL,
    decision    TEXT,
    reason      TEXT,
    requested_at INTEGER NOT NULL,
    decided_at  INTEGER,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;

-- Commands (pause, cancel, approve, deny) sent by other processes to the engine driving a run.
CREATE TABLE commands (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    kind        TEXT NOT NULL,
    step_id     TEXT,
    payload     TEXT,
    created_at  INTEGER NOT NULL,
    handled_at  INTEGER
);
