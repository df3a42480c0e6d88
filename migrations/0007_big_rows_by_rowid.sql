-- The tables whose rows hold a run's big texts become rowid tables, each keyed as before
-- through a unique index. In a WITHOUT ROWID table the key lookup compares against whole
-- rows, and SQLite reads every overflow page of a row longer than about 1 KB to compare
-- it: every foreign-key check of a child row (each event, item and step of a run looks its
-- run up) and every lease check copied the run's whole input, and creating a run copied
-- its workflow's definition, megabytes for a big workflow. A unique index holds only the
-- key and the rowid. The big columns come last, so reading the others never walks their
-- overflow pages.
--
-- SQLite's procedure for changing a table's shape: the new table filled from the old, which
-- is dropped, then renamed, with foreign keys off (the store migrates with them off, and
-- checks every key before it commits: `store/sqlite/open.rs`, `migrate`).

CREATE TABLE workflows_by_rowid (
    hash        TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    definition  TEXT NOT NULL
);
INSERT INTO workflows_by_rowid (hash, name, created_at, definition)
    SELECT hash, name, created_at, definition FROM workflows;
DROP TABLE workflows;
ALTER TABLE workflows_by_rowid RENAME TO workflows;

CREATE TABLE policies_by_rowid (
    hash        TEXT PRIMARY KEY NOT NULL,
    created_at  INTEGER NOT NULL,
    policy      TEXT NOT NULL
);
INSERT INTO policies_by_rowid (hash, created_at, policy)
    SELECT hash, created_at, policy FROM policies;
DROP TABLE policies;
ALTER TABLE policies_by_rowid RENAME TO policies;

CREATE TABLE runs_by_rowid (
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
    input           TEXT NOT NULL,
    output          TEXT,
    error           TEXT
);
INSERT INTO runs_by_rowid (id, workflow_hash, workflow_name, state, created_at, lease_owner,
        lease_host, lease_pid, lease_pid_start, lease_expires, error_class, policy_hash,
        deadline_at, input, output, error)
    SELECT id, workflow_hash, workflow_name, state, created_at, lease_owner, lease_host,
        lease_pid, lease_pid_start, lease_expires, error_class, policy_hash, deadline_at,
        input, output, error
    FROM runs;
DROP TABLE runs;
ALTER TABLE runs_by_rowid RENAME TO runs;
CREATE INDEX runs_by_state ON runs (state);
