-- No table changes: a marker of a storage format. From this version on, a run's output of
-- 64 KiB or more is written in place (a zeroblob filled through the pager, as a definition
-- and an input are) and so stored as a BLOB of UTF-8 JSON, which cairn reads as bytes,
-- like older text. A cairn built before this migration would fail on such a row; recording
-- the version makes it refuse the database with the migrator's message instead.
SELECT 1;
