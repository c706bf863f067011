-- Bulk deletes (issue 11): deleting whole groups of items (a project's, an app's, the
-- whole cache: `CacheItem::delete_matching`, behind `deletecache`, the admin pages,
-- the REST delete and the plugin API's `delete_cache`) adjusts the kept aggregates
-- once per group instead of once per row. SQLite has only per-row triggers, and the
-- per-row `cache_items_stats_delete` (five statements, two of them index lookups for
-- the scope's newest and oldest time) was most of the CPU of `deletecache -p` of
-- 10,000 items (sqlite3 shell on a copy: 0.18-0.28 s user with it, 0.10-0.12 s
-- without).
--
-- While a row of `cache_stats_bulk` exists, that trigger stands aside. Only the bulk
-- path writes the row: it inserts it as its first statement, adjusts the aggregates
-- from the groups' own kept rows, deletes the items, and deletes the row again, all in
-- one transaction. So no other connection ever sees the row (readers see committed
-- state only; SQLite has one writer at a time), and every other writer, a human with
-- the sqlite3 shell included, keeps the per-row trigger. A failed bulk delete rolls
-- the row back with everything else. Do not insert into this table by hand.
--
-- Not gated: the triggers that delete an item's data row and the foreign-key cascades
-- to versions and previews. They are one indexed delete per row, checked in C;
-- deleting the data set-based would need the data foreign keys deferred or dropped,
-- for no measurable gain (0.10 against 0.07-0.13 s user in the same shell runs).
CREATE TABLE cache_stats_bulk (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1)
);

DROP TRIGGER cache_items_stats_delete;
-- As in 2026-12-01-950001_kept_item_stats, with the WHEN clause.
CREATE TRIGGER cache_items_stats_delete AFTER DELETE ON cache_items
WHEN NOT EXISTS (SELECT 1 FROM cache_stats_bulk)
BEGIN
    UPDATE cache_app_stats SET items = items - 1, bytes = bytes - OLD.size_bytes
    WHERE project_key = COALESCE(OLD.project_id, 0) AND app_name = OLD.app_name;
    DELETE FROM cache_app_stats
    WHERE project_key = COALESCE(OLD.project_id, 0) AND app_name = OLD.app_name AND items <= 0;
    UPDATE cache_scope_stats SET items = items - 1, bytes = bytes - OLD.size_bytes,
        newest = CASE WHEN OLD.date_modified >= newest THEN
            (SELECT MAX(date_modified) FROM cache_items WHERE project_key = COALESCE(OLD.project_id, 0))
            ELSE newest END,
        oldest = CASE WHEN OLD.date_modified <= oldest THEN
            (SELECT MIN(date_modified) FROM cache_items WHERE project_key = COALESCE(OLD.project_id, 0))
            ELSE oldest END
    WHERE project_key = COALESCE(OLD.project_id, 0);
    DELETE FROM cache_scope_stats WHERE project_key = COALESCE(OLD.project_id, 0) AND items <= 0;
    UPDATE cache_totals SET items = items - 1, bytes = bytes - OLD.size_bytes
    WHERE OLD.project_id IS NOT NULL;
END;
