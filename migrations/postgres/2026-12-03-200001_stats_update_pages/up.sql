-- Nothing to change here: SQLite's per-row `cache_items_stats_update` SET every kept
-- column of `cache_scope_stats` on each write (see migrations/sqlite of this name).
-- PostgreSQL's statement-level trigger only queues a delta row per write
-- (2026-12-01-950001_kept_item_stats) and the fold writes what changed. This
-- migration keeps both backends' migration lists in step.
SELECT 1;
