DROP TRIGGER cache_items_stats_delete;
-- As created by 2026-12-01-950001_kept_item_stats.
CREATE TRIGGER cache_items_stats_delete AFTER DELETE ON cache_items
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
DROP TABLE cache_stats_bulk;
