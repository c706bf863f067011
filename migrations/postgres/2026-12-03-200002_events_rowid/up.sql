-- Nothing to change here: the SQLite migration of this name drops AUTOINCREMENT from
-- `events` (a page per insert in `sqlite_sequence`). PostgreSQL's `events.id` is a
-- sequence, which logs once per 32 values. This migration keeps both backends'
-- migration lists in step.
SELECT 1;
