-- Back to one key per project: the rows under deleted keys go first (the triggers
-- skip them: they are not in the aggregates), then live rows under a moved key return
-- to their project id, and the triggers and the generated column are as before.
DELETE FROM cache_items WHERE project_key IN (SELECT project_key FROM cache_dead_keys);
DROP TRIGGER cache_items_stats_move;
UPDATE cache_items SET key_override = NULL WHERE key_override IS NOT NULL;
DROP TABLE cache_dead_keys;
DROP TRIGGER cache_items_stats_insert;
DROP TRIGGER cache_items_stats_delete;
DROP TRIGGER cache_items_stats_update;
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, 'project_key INTEGER GENERATED ALWAYS AS (COALESCE(key_override, project_id, 0)) VIRTUAL',
                       'project_key INTEGER GENERATED ALWAYS AS (COALESCE(project_id, 0)) VIRTUAL')
WHERE type = 'table' AND name = 'cache_items';
PRAGMA writable_schema = RESET;
ALTER TABLE cache_items DROP COLUMN key_override;
DROP INDEX projects_cache_key;
ALTER TABLE projects DROP COLUMN cache_key;
-- As before this migration.
CREATE TRIGGER cache_items_stats_insert AFTER INSERT ON cache_items
BEGIN
    INSERT INTO cache_app_stats (project_key, app_name, items, bytes)
    VALUES (COALESCE(NEW.project_id, 0), NEW.app_name, 1, NEW.size_bytes)
    ON CONFLICT (project_key, app_name) DO UPDATE
        SET items = items + 1, bytes = bytes + excluded.bytes;
    INSERT INTO cache_scope_stats (project_key, items, bytes, newest, oldest)
    VALUES (COALESCE(NEW.project_id, 0), 1, NEW.size_bytes, NEW.date_modified, NEW.date_modified)
    ON CONFLICT (project_key) DO UPDATE
        SET items = items + 1, bytes = bytes + excluded.bytes,
            newest = MAX(newest, excluded.newest), oldest = MIN(oldest, excluded.oldest);
    UPDATE cache_totals SET items = items + 1, bytes = bytes + NEW.size_bytes
    WHERE NEW.project_id IS NOT NULL;
END;
CREATE TRIGGER cache_items_stats_move AFTER UPDATE OF project_id, app_name ON cache_items
WHEN COALESCE(OLD.project_id, 0) <> COALESCE(NEW.project_id, 0) OR OLD.app_name <> NEW.app_name
BEGIN
    UPDATE cache_app_stats SET items = items - 1, bytes = bytes - OLD.size_bytes
    WHERE project_key = COALESCE(OLD.project_id, 0) AND app_name = OLD.app_name;
    DELETE FROM cache_app_stats
    WHERE project_key = COALESCE(OLD.project_id, 0) AND app_name = OLD.app_name AND items <= 0;
    INSERT INTO cache_app_stats (project_key, app_name, items, bytes)
    VALUES (COALESCE(NEW.project_id, 0), NEW.app_name, 1, NEW.size_bytes)
    ON CONFLICT (project_key, app_name) DO UPDATE
        SET items = items + 1, bytes = bytes + excluded.bytes;
    UPDATE cache_scope_stats SET items = items - 1, bytes = bytes - OLD.size_bytes,
        newest = (SELECT MAX(date_modified) FROM cache_items WHERE project_key = COALESCE(OLD.project_id, 0)),
        oldest = (SELECT MIN(date_modified) FROM cache_items WHERE project_key = COALESCE(OLD.project_id, 0))
    WHERE project_key = COALESCE(OLD.project_id, 0);
    DELETE FROM cache_scope_stats WHERE project_key = COALESCE(OLD.project_id, 0) AND items <= 0;
    INSERT INTO cache_scope_stats (project_key, items, bytes, newest, oldest)
    VALUES (COALESCE(NEW.project_id, 0), 1, NEW.size_bytes, NEW.date_modified, NEW.date_modified)
    ON CONFLICT (project_key) DO UPDATE
        SET items = items + 1, bytes = bytes + excluded.bytes,
            newest = (SELECT MAX(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0)),
            oldest = (SELECT MIN(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0));
    UPDATE cache_totals SET
        items = items - (OLD.project_id IS NOT NULL) + (NEW.project_id IS NOT NULL),
        bytes = bytes - (CASE WHEN OLD.project_id IS NOT NULL THEN OLD.size_bytes ELSE 0 END)
                      + (CASE WHEN NEW.project_id IS NOT NULL THEN NEW.size_bytes ELSE 0 END);
END;
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
CREATE TRIGGER cache_items_stats_update AFTER UPDATE OF size_bytes, date_modified ON cache_items
WHEN COALESCE(OLD.project_id, 0) = COALESCE(NEW.project_id, 0) AND OLD.app_name = NEW.app_name
BEGIN
    UPDATE cache_app_stats SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE project_key = COALESCE(NEW.project_id, 0) AND app_name = NEW.app_name
      AND OLD.size_bytes <> NEW.size_bytes;
    UPDATE cache_scope_stats SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE project_key = COALESCE(NEW.project_id, 0) AND OLD.size_bytes <> NEW.size_bytes;
    UPDATE cache_scope_stats SET newest = CASE WHEN OLD.date_modified >= newest THEN
            (SELECT MAX(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0))
            ELSE MAX(newest, NEW.date_modified) END
    WHERE project_key = COALESCE(NEW.project_id, 0)
      AND (OLD.date_modified >= newest OR NEW.date_modified > newest);
    UPDATE cache_scope_stats SET oldest = CASE WHEN OLD.date_modified <= oldest THEN
            (SELECT MIN(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0))
            ELSE MIN(oldest, NEW.date_modified) END
    WHERE project_key = COALESCE(NEW.project_id, 0)
      AND (OLD.date_modified <= oldest OR NEW.date_modified < oldest);
    UPDATE cache_totals SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE NEW.project_id IS NOT NULL AND OLD.size_bytes <> NEW.size_bytes;
END;
