-- As created by 2026-12-01-950001_kept_item_stats.
DROP TRIGGER cache_items_stats_update;
CREATE TRIGGER cache_items_stats_update AFTER UPDATE OF size_bytes, date_modified ON cache_items
WHEN COALESCE(OLD.project_id, 0) = COALESCE(NEW.project_id, 0) AND OLD.app_name = NEW.app_name
BEGIN
    UPDATE cache_app_stats SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE project_key = COALESCE(NEW.project_id, 0) AND app_name = NEW.app_name;
    UPDATE cache_scope_stats SET bytes = bytes - OLD.size_bytes + NEW.size_bytes,
        newest = CASE WHEN OLD.date_modified >= newest THEN
            (SELECT MAX(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0))
            ELSE MAX(newest, NEW.date_modified) END,
        oldest = CASE WHEN OLD.date_modified <= oldest THEN
            (SELECT MIN(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0))
            ELSE MIN(oldest, NEW.date_modified) END
    WHERE project_key = COALESCE(NEW.project_id, 0);
    UPDATE cache_totals SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE NEW.project_id IS NOT NULL;
END;
