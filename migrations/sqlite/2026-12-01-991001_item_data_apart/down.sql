-- Back to the data in the rows (as after 2026-12-01-960001_item_preview: `data` the
-- last column of both tables), without loss; then the data table goes.
DROP TRIGGER cache_item_versions_drop_data;
DROP TRIGGER cache_items_drop_data;
DROP TRIGGER cache_items_release_data;
DROP TRIGGER cache_items_keep_version;
DROP INDEX cache_item_versions_data;
DROP INDEX cache_items_data;

-- DROP COLUMN refuses a column with a foreign key: remove the constraint from the
-- stored text first (removing a constraint is a documented safe edit).
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, 'data_id INTEGER NOT NULL REFERENCES cache_item_data (id)', 'data_id INTEGER')
WHERE type = 'table' AND name IN ('cache_items', 'cache_item_versions');
PRAGMA writable_schema = RESET;

ALTER TABLE cache_items ADD COLUMN data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data));
UPDATE cache_items SET data = (SELECT d.data FROM cache_item_data d WHERE d.id = cache_items.data_id);
ALTER TABLE cache_items DROP COLUMN data_id;

ALTER TABLE cache_item_versions ADD COLUMN data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data));
UPDATE cache_item_versions SET data = (SELECT d.data FROM cache_item_data d WHERE d.id = cache_item_versions.data_id);
ALTER TABLE cache_item_versions DROP COLUMN data_id;

DROP TABLE cache_item_data;

-- As created by 2026-12-01-1200001_item_history.
CREATE TRIGGER cache_items_keep_version AFTER UPDATE OF version ON cache_items
WHEN NEW.version <> OLD.version
    AND COALESCE((SELECT CAST(value AS INTEGER) FROM site_settings WHERE name = 'history_versions'), 5) > 0
BEGIN
    INSERT INTO cache_item_versions (item_id, version, data, size_bytes, date_modified, user_id, origin, job_id)
    VALUES (OLD.id, OLD.version, OLD.data, OLD.size_bytes, OLD.date_modified, OLD.user_id, OLD.origin, OLD.job_id);
    DELETE FROM cache_item_versions
    WHERE item_id = OLD.id
      AND version <= OLD.version
          - COALESCE((SELECT CAST(value AS INTEGER) FROM site_settings WHERE name = 'history_versions'), 5);
END;
