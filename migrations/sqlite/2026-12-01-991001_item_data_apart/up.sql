-- Item data apart from the item row (issues 10 and 12): `cache_item_data` holds every
-- JSON document, `cache_items.data_id` points at the item's current one and
-- `cache_item_versions.data_id` at each kept version's. A write that changes an item
-- inserts the new data row and moves the pointer; keeping the old version moves the old
-- pointer into the version row, without reading the data. Each data row belongs to
-- exactly one item or one version (unique indexes), and goes with it:
--
-- * a write that changes an item keeps its old data as a version (history on) or
--   deletes it (history off: `history_versions` 0); pruned versions delete theirs;
-- * deleting an item or a version, directly or by a cascade (a project's), deletes its
--   data (triggers; SQLite's foreign-key actions fire them).
--
-- Existing documents move without loss: an item's data keeps the item's id, a version's
-- gets the largest item id plus its own. One-off cost: every document is copied once
-- into the new table (and the old columns' removal rewrites both tables).
--
-- The columns are added and dropped (ALTER TABLE), not the tables rebuilt: dropping
-- cache_items would fire the foreign-key actions of the tables referencing it
-- (versions, previews) inside the migration's transaction, where foreign keys are on.
-- SQLite adds a column with a foreign key only as nullable; NOT NULL is then set the
-- way 2026-12-01-1200101_sync_schedules loosened a CHECK (SQLite's documented
-- procedure, sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema
-- Changes": edit the stored CREATE TABLE text), after every row was given a value.
CREATE TABLE cache_item_data (
    id INTEGER PRIMARY KEY,
    data TEXT NOT NULL CHECK (json_valid(data))
);

-- It reads OLD.data; recreated below on data_id.
DROP TRIGGER cache_items_keep_version;

INSERT INTO cache_item_data (id, data) SELECT id, data FROM cache_items;
INSERT INTO cache_item_data (id, data)
SELECT (SELECT COALESCE(MAX(id), 0) FROM cache_items) + id, data FROM cache_item_versions;

ALTER TABLE cache_item_versions ADD COLUMN data_id INTEGER REFERENCES cache_item_data (id);
UPDATE cache_item_versions SET data_id = (SELECT COALESCE(MAX(id), 0) FROM cache_items) + id;
ALTER TABLE cache_item_versions DROP COLUMN data;

ALTER TABLE cache_items ADD COLUMN data_id INTEGER REFERENCES cache_item_data (id);
UPDATE cache_items SET data_id = id;
ALTER TABLE cache_items DROP COLUMN data;

PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, 'data_id INTEGER REFERENCES cache_item_data (id)',
                       'data_id INTEGER NOT NULL REFERENCES cache_item_data (id)')
WHERE type = 'table' AND name IN ('cache_items', 'cache_item_versions');
PRAGMA writable_schema = RESET;

-- One owner per data row; the indexes also serve the foreign-key checks of a data
-- row's deletion. (Creating them bumps the schema cookie after the edit above.)
CREATE UNIQUE INDEX cache_items_data ON cache_items (data_id);
CREATE UNIQUE INDEX cache_item_versions_data ON cache_item_versions (data_id);

-- A write that changed the data (new version, new data row) keeps the old version: its
-- metadata and data pointer. Pruned versions take their data with them (below).
CREATE TRIGGER cache_items_keep_version AFTER UPDATE OF version, data_id ON cache_items
WHEN NEW.version <> OLD.version AND NEW.data_id <> OLD.data_id
    AND COALESCE((SELECT CAST(value AS INTEGER) FROM site_settings WHERE name = 'history_versions'), 5) > 0
BEGIN
    INSERT INTO cache_item_versions (item_id, version, size_bytes, date_modified, user_id, origin, job_id, data_id)
    VALUES (OLD.id, OLD.version, OLD.size_bytes, OLD.date_modified, OLD.user_id, OLD.origin, OLD.job_id, OLD.data_id);
    DELETE FROM cache_item_versions
    WHERE item_id = OLD.id
      AND version <= OLD.version
          - COALESCE((SELECT CAST(value AS INTEGER) FROM site_settings WHERE name = 'history_versions'), 5);
END;

-- Data replaced without becoming a version (history off, or the same data written
-- again by a concurrent writer) is deleted.
CREATE TRIGGER cache_items_release_data AFTER UPDATE OF data_id ON cache_items
WHEN NEW.data_id <> OLD.data_id
    AND NOT (NEW.version <> OLD.version
        AND COALESCE((SELECT CAST(value AS INTEGER) FROM site_settings WHERE name = 'history_versions'), 5) > 0)
BEGIN
    DELETE FROM cache_item_data WHERE id = OLD.data_id;
END;

CREATE TRIGGER cache_items_drop_data AFTER DELETE ON cache_items
BEGIN
    DELETE FROM cache_item_data WHERE id = OLD.data_id;
END;

CREATE TRIGGER cache_item_versions_drop_data AFTER DELETE ON cache_item_versions
BEGIN
    DELETE FROM cache_item_data WHERE id = OLD.data_id;
END;
