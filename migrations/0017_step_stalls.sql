-- A running step's stall, once seen, when its escalation (`retry`, `fail`) ends only its
-- attempt: `{"stall": {"kind", "evidence"}, "escalation", "attempt"}`, the attempt's only
-- while that attempt runs (left in place after: clearing it at every transition would make
-- every step update open this index). An engine that dies in the stalled attempt's kill grace leaves it for the
-- engine taking the run over, which escalates it as the live engine would have. (A pause or
-- a cancel is recorded as the run's command instead.) Nearly every row's is NULL: the index
-- holds only the stalled ones.
ALTER TABLE steps ADD COLUMN stall TEXT;
CREATE INDEX steps_stalled ON steps (run_id) WHERE stall IS NOT NULL;
