-- The policy guard: the guard snapshot each run is judged with, approvals bound to the exact
-- action, and the commands other processes send (approve, deny).

-- The guard snapshot (e.g. the policy) a run started with, by hash: resuming judges with it.
CREATE TABLE policies (
    hash        TEXT PRIMARY KEY,
    policy      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

ALTER TABLE runs ADD COLUMN policy_hash TEXT REFERENCES policies (hash);

-- The unused table of the initial schema had no item and no action hash.
DROP TABLE approvals;

-- One request per step (item -1) or per `for_each` item, with its decision once made.
CREATE TABLE approvals (
    run_id       TEXT NOT NULL REFERENCES runs (id),
    step_id      TEXT NOT NULL,
    item         INTEGER NOT NULL,
    -- The hash of the exact action (and policy) approved: a changed action asks again.
    action_hash  TEXT NOT NULL,
    -- The verdict that asked (rules and reasons), JSON.
    verdict      TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    -- 'approved' or 'denied' once decided (an expiry is a denial by `cairn`).
    decision     TEXT,
    decided_by   TEXT,
    reason       TEXT,
    decided_at   INTEGER,
    PRIMARY KEY (run_id, step_id, item)
) WITHOUT ROWID;

CREATE INDEX approvals_waiting ON approvals (decision) WHERE decision IS NULL;
CREATE INDEX commands_pending ON commands (run_id) WHERE handled_at IS NULL;
