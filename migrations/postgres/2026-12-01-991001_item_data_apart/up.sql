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
--   data.
--
-- The triggers are per statement, over transition tables: a bulk write or delete is one
-- statement per table, not one per row. Existing documents move without loss: an item's
-- data keeps the item's id, a version's gets the largest item id plus its own.
CREATE TABLE cache_item_data (
    id BIGSERIAL PRIMARY KEY,
    data JSON NOT NULL
);
-- Out of line, uncompressed, as cache_items.data was: the write costs no compression.
ALTER TABLE cache_item_data ALTER COLUMN data SET STORAGE EXTERNAL;

DROP TRIGGER cache_items_keep_version ON cache_items;
DROP FUNCTION cache_items_keep_version();

INSERT INTO cache_item_data (id, data) SELECT id, data FROM cache_items;
INSERT INTO cache_item_data (id, data)
SELECT (SELECT COALESCE(MAX(id), 0) FROM cache_items) + id, data FROM cache_item_versions;
SELECT setval(pg_get_serial_sequence('cache_item_data', 'id'),
              COALESCE((SELECT MAX(id) FROM cache_item_data), 1),
              (SELECT MAX(id) FROM cache_item_data) IS NOT NULL);

ALTER TABLE cache_item_versions ADD COLUMN data_id BIGINT;
UPDATE cache_item_versions SET data_id = (SELECT COALESCE(MAX(id), 0) FROM cache_items) + id;
ALTER TABLE cache_item_versions ALTER COLUMN data_id SET NOT NULL;
ALTER TABLE cache_item_versions DROP COLUMN data;

ALTER TABLE cache_items ADD COLUMN data_id BIGINT;
UPDATE cache_items SET data_id = id;
ALTER TABLE cache_items ALTER COLUMN data_id SET NOT NULL;
ALTER TABLE cache_items DROP COLUMN data;

-- One owner per data row. No foreign key from `data_id` to `cache_item_data`: each one
-- made every deleted data row run a check per referencing table through SPI (two per
-- row), which tripled `deletecache -p` of 10,000 items (162 -> 596 ms, scripts/bench)
-- and cost a bulk write about 50 ms per 1,000 changed items. The triggers below are the
-- only writers of data rows besides the upsert, and `tests/item_data.rs` checks after
-- every kind of write and delete that no pointer dangles and no data row is orphaned.
-- SQLite keeps its foreign keys: checked in C there, its `deletecache -p` took 320 ms
-- with them, as before the data moved apart (334 ms).
CREATE UNIQUE INDEX cache_items_data ON cache_items (data_id);
CREATE UNIQUE INDEX cache_item_versions_data ON cache_item_versions (data_id);

-- A write that changed the data (new version, new data row) keeps the old version: its
-- metadata and data pointer; versions past `history_versions` are pruned. Data
-- replaced without becoming a version (history off, or the same data written again by
-- a concurrent writer) is deleted.
--
-- Each old row is matched with the row as the statement left it through the primary key
-- of `cache_items` itself, not by joining the two transition tables: the planner takes a
-- transition table for one row, so such a join became a nested loop over both (500 x
-- 500 tuplestore scans, about 200 ms for a bulk write of 500 changed items, seen with
-- auto_explain), where the index lookup costs a few microseconds per row.
CREATE FUNCTION cache_items_keep_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    keep BIGINT := COALESCE(
        (SELECT CAST(value AS BIGINT) FROM site_settings WHERE name = 'history_versions'), 5);
BEGIN
    IF keep > 0 THEN
        INSERT INTO cache_item_versions
            (item_id, version, data_id, size_bytes, date_modified, user_id, origin, job_id)
        SELECT o.id, o.version, o.data_id, o.size_bytes, o.date_modified,
               o.user_id, o.origin, o.job_id
        FROM old_rows o JOIN cache_items n ON n.id = o.id
        WHERE n.version <> o.version AND n.data_id <> o.data_id;
        DELETE FROM cache_item_versions v
        USING old_rows o JOIN cache_items n ON n.id = o.id
        WHERE n.version <> o.version AND n.data_id <> o.data_id
          AND v.item_id = o.id AND v.version <= o.version - keep;
        DELETE FROM cache_item_data d
        USING old_rows o JOIN cache_items n ON n.id = o.id
        WHERE n.data_id <> o.data_id AND n.version = o.version AND d.id = o.data_id;
    ELSE
        DELETE FROM cache_item_data d
        USING old_rows o JOIN cache_items n ON n.id = o.id
        WHERE n.data_id <> o.data_id AND d.id = o.data_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER cache_items_keep_version AFTER UPDATE ON cache_items
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_items_keep_version();

-- Deleted items and versions (directly or by a cascade) take their data with them.
CREATE FUNCTION cache_items_drop_data() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM cache_item_data d USING old_rows o WHERE d.id = o.data_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER cache_items_drop_data AFTER DELETE ON cache_items
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_items_drop_data();

CREATE FUNCTION cache_item_versions_drop_data() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM cache_item_data d USING old_rows o WHERE d.id = o.data_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER cache_item_versions_drop_data AFTER DELETE ON cache_item_versions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_item_versions_drop_data();
