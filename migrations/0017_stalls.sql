-- A running step's stall, once seen, when its escalation (`retry`, `fail`) ends only its
-- attempt: `{"stall": {"kind", "evidence"}, "escalation", "attempt"}`, the last one seen of
-- each step. An engine that dies in the stalled attempt's kill grace leaves it for the
-- engine taking the run over, which escalates it as the live engine would have, if the step
-- still runs the attempt it names (a later attempt's takeover ignores it, so nothing clears
-- it). (A pause or a cancel is recorded as the run's command instead.) A table of its own:
-- a column of `steps` cost every step update of every run (+2% of a commit's instructions).
CREATE TABLE stalls (
    run_id  TEXT NOT NULL REFERENCES runs (id),
    step_id TEXT NOT NULL,
    stall   TEXT NOT NULL,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;
