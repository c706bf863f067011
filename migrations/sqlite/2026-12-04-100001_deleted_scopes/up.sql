-- Deleting a project's whole cache in one step (issue 11): `deletecache -p`, the admin
-- pages' delete of a project's items and the plugin API's `delete_cache(None, project)`
-- no longer delete each item. They move the project to a
-- new item key and mark the old key deleted; the items under it are invisible at once
-- and are purged later in batches (`CacheItem::purge_deleted`, by the server's worker
-- and by `synccache`).
--
-- * `projects.cache_key`: the key the project's live items are stored under. NULL: its
--   row id (never deleted this way). A deleted cache gives it the next free negative
--   number, so a key never equals a project id.
-- * `cache_items.key_override`: the key of a row written under a moved key (NULL: its
--   project id). `project_key` becomes COALESCE(key_override, project_id, 0); the
--   unique key (project_key, app_name, name) and every index on project_key stay.
--   Rows written before this migration all have key_override NULL, so their stored
--   index entries keep their values: the generated column's expression is edited in
--   place the way 2026-12-01-1200101_sync_schedules loosened a CHECK (SQLite's
--   documented procedure for changes that leave the stored rows as they are); a
--   VIRTUAL column is not stored in the rows at all.
-- * `cache_dead_keys`: the deleted keys whose rows are still there. The kept
--   aggregates stay keyed by project id and count live rows only: the deleting
--   statement removes the project's aggregates, and the per-row triggers below skip a
--   row under a deleted key (the purge's deletes, a project's cascade), so nothing is
--   counted twice.
ALTER TABLE projects ADD COLUMN cache_key INTEGER CHECK (cache_key < 0);
CREATE UNIQUE INDEX projects_cache_key ON projects (cache_key) WHERE cache_key IS NOT NULL;
ALTER TABLE cache_items ADD COLUMN key_override INTEGER CHECK (key_override < 0);

PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, 'project_key INTEGER GENERATED ALWAYS AS (COALESCE(project_id, 0)) VIRTUAL',
                       'project_key INTEGER GENERATED ALWAYS AS (COALESCE(key_override, project_id, 0)) VIRTUAL')
WHERE type = 'table' AND name = 'cache_items';
PRAGMA writable_schema = RESET;

-- (Creating it bumps the schema cookie after the edit above.)
CREATE TABLE cache_dead_keys (
    project_key INTEGER PRIMARY KEY NOT NULL CHECK (project_key <> 0),
    project_id INTEGER NOT NULL,
    deleted_at TIMESTAMP NOT NULL
);

-- The per-row aggregate triggers: rows under a deleted key do not count, and the scope's
-- newest and oldest times come from its live key (the row's own).
DROP TRIGGER cache_items_stats_insert;
CREATE TRIGGER cache_items_stats_insert AFTER INSERT ON cache_items
WHEN NOT EXISTS (SELECT 1 FROM cache_dead_keys WHERE project_key = NEW.project_key)
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

DROP TRIGGER cache_items_stats_move;
CREATE TRIGGER cache_items_stats_move AFTER UPDATE OF project_id, app_name, key_override ON cache_items
WHEN (OLD.project_key <> NEW.project_key OR OLD.app_name <> NEW.app_name)
    AND NOT EXISTS (SELECT 1 FROM cache_dead_keys WHERE project_key IN (OLD.project_key, NEW.project_key))
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
        newest = (SELECT MAX(date_modified) FROM cache_items WHERE project_key = OLD.project_key),
        oldest = (SELECT MIN(date_modified) FROM cache_items WHERE project_key = OLD.project_key)
    WHERE project_key = COALESCE(OLD.project_id, 0);
    DELETE FROM cache_scope_stats WHERE project_key = COALESCE(OLD.project_id, 0) AND items <= 0;
    INSERT INTO cache_scope_stats (project_key, items, bytes, newest, oldest)
    VALUES (COALESCE(NEW.project_id, 0), 1, NEW.size_bytes, NEW.date_modified, NEW.date_modified)
    ON CONFLICT (project_key) DO UPDATE
        SET items = items + 1, bytes = bytes + excluded.bytes,
            newest = (SELECT MAX(date_modified) FROM cache_items WHERE project_key = NEW.project_key),
            oldest = (SELECT MIN(date_modified) FROM cache_items WHERE project_key = NEW.project_key);
    UPDATE cache_totals SET
        items = items - (OLD.project_id IS NOT NULL) + (NEW.project_id IS NOT NULL),
        bytes = bytes - (CASE WHEN OLD.project_id IS NOT NULL THEN OLD.size_bytes ELSE 0 END)
                      + (CASE WHEN NEW.project_id IS NOT NULL THEN NEW.size_bytes ELSE 0 END);
END;

DROP TRIGGER cache_items_stats_delete;
CREATE TRIGGER cache_items_stats_delete AFTER DELETE ON cache_items
WHEN NOT EXISTS (SELECT 1 FROM cache_stats_bulk)
    AND NOT EXISTS (SELECT 1 FROM cache_dead_keys WHERE project_key = OLD.project_key)
BEGIN
    UPDATE cache_app_stats SET items = items - 1, bytes = bytes - OLD.size_bytes
    WHERE project_key = COALESCE(OLD.project_id, 0) AND app_name = OLD.app_name;
    DELETE FROM cache_app_stats
    WHERE project_key = COALESCE(OLD.project_id, 0) AND app_name = OLD.app_name AND items <= 0;
    UPDATE cache_scope_stats SET items = items - 1, bytes = bytes - OLD.size_bytes,
        newest = CASE WHEN OLD.date_modified >= newest THEN
            (SELECT MAX(date_modified) FROM cache_items WHERE project_key = OLD.project_key)
            ELSE newest END,
        oldest = CASE WHEN OLD.date_modified <= oldest THEN
            (SELECT MIN(date_modified) FROM cache_items WHERE project_key = OLD.project_key)
            ELSE oldest END
    WHERE project_key = COALESCE(OLD.project_id, 0);
    DELETE FROM cache_scope_stats WHERE project_key = COALESCE(OLD.project_id, 0) AND items <= 0;
    UPDATE cache_totals SET items = items - 1, bytes = bytes - OLD.size_bytes
    WHERE OLD.project_id IS NOT NULL;
END;

DROP TRIGGER cache_items_stats_update;
CREATE TRIGGER cache_items_stats_update AFTER UPDATE OF size_bytes, date_modified ON cache_items
WHEN OLD.project_key = NEW.project_key AND OLD.app_name = NEW.app_name
    AND NOT EXISTS (SELECT 1 FROM cache_dead_keys WHERE project_key = NEW.project_key)
BEGIN
    UPDATE cache_app_stats SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE project_key = COALESCE(NEW.project_id, 0) AND app_name = NEW.app_name
      AND OLD.size_bytes <> NEW.size_bytes;
    UPDATE cache_scope_stats SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE project_key = COALESCE(NEW.project_id, 0) AND OLD.size_bytes <> NEW.size_bytes;
    UPDATE cache_scope_stats SET newest = CASE WHEN OLD.date_modified >= newest THEN
            (SELECT MAX(date_modified) FROM cache_items WHERE project_key = NEW.project_key)
            ELSE MAX(newest, NEW.date_modified) END
    WHERE project_key = COALESCE(NEW.project_id, 0)
      AND (OLD.date_modified >= newest OR NEW.date_modified > newest);
    UPDATE cache_scope_stats SET oldest = CASE WHEN OLD.date_modified <= oldest THEN
            (SELECT MIN(date_modified) FROM cache_items WHERE project_key = NEW.project_key)
            ELSE MIN(oldest, NEW.date_modified) END
    WHERE project_key = COALESCE(NEW.project_id, 0)
      AND (OLD.date_modified <= oldest OR NEW.date_modified < oldest);
    UPDATE cache_totals SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE NEW.project_id IS NOT NULL AND OLD.size_bytes <> NEW.size_bytes;
END;
