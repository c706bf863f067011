-- The item page's preview of a large item (issue 8): the first part of the data (at
-- most 1 MiB, cut at a UTF-8 boundary by the writer) of every item larger than 4 MiB,
-- written in the item's write transaction and tagged with the hash of the data it was
-- cut from (the page uses it only while that matches). Smaller items are read whole.
-- A table beside cache_items rather than a column of it: Diesel is built with 16-column
-- tables, which cache_items already fills.
CREATE TABLE cache_item_previews (
    item_id INTEGER PRIMARY KEY REFERENCES cache_items (id) ON DELETE CASCADE,
    data_sha256 TEXT NOT NULL CHECK (length(data_sha256) = 64),
    preview TEXT NOT NULL
);
-- An item that shrinks below the limit drops its preview.
CREATE TRIGGER cache_items_drop_preview AFTER UPDATE OF size_bytes ON cache_items
WHEN OLD.size_bytes > 4194304 AND NEW.size_bytes <= 4194304
BEGIN
    DELETE FROM cache_item_previews WHERE item_id = NEW.id;
END;

-- SQLite stores a row's columns in order, and a column after a large value is reached
-- only by walking that value's overflow-page chain (a 30 MB value: ~7,500 pages, about
-- 20 ms per read). `data` was the sixth column with every later-added one (size, date,
-- writer, hash, version, ...) behind it, so even reading an item's size or a version's
-- read through all of its data. `data` becomes the last column of `cache_items` and of
-- `cache_item_versions` (add a copy, drop the old column, rename). One-off cost: every
-- item's and version's data is copied twice (the UPDATE, then DROP COLUMN's rewrite).
DROP TRIGGER cache_items_keep_version;

ALTER TABLE cache_items ADD COLUMN data_last TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data_last));
UPDATE cache_items SET data_last = data;
ALTER TABLE cache_items DROP COLUMN data;
ALTER TABLE cache_items RENAME COLUMN data_last TO data;

ALTER TABLE cache_item_versions ADD COLUMN data_last TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data_last));
UPDATE cache_item_versions SET data_last = data;
ALTER TABLE cache_item_versions DROP COLUMN data;
ALTER TABLE cache_item_versions RENAME COLUMN data_last TO data;

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

-- Backfill. substr counts characters; the reader cuts to 1 MiB bytes. Rows without a
-- hash (older than the column) get theirs at their next write, and a preview then.
INSERT INTO cache_item_previews (item_id, data_sha256, preview)
SELECT id, data_sha256, substr(data, 1, 1048576) FROM cache_items
WHERE size_bytes > 4194304 AND data_sha256 IS NOT NULL;
