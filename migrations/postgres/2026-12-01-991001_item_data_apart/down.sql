-- Back to the data in the rows, without loss; then the data table goes.
DROP TRIGGER cache_item_versions_drop_data ON cache_item_versions;
DROP FUNCTION cache_item_versions_drop_data();
DROP TRIGGER cache_items_drop_data ON cache_items;
DROP FUNCTION cache_items_drop_data();
DROP TRIGGER cache_items_keep_version ON cache_items;
DROP FUNCTION cache_items_keep_version();

ALTER TABLE cache_items ADD COLUMN data JSON;
UPDATE cache_items SET data = d.data FROM cache_item_data d WHERE d.id = cache_items.data_id;
ALTER TABLE cache_items ALTER COLUMN data SET NOT NULL;
ALTER TABLE cache_items ALTER COLUMN data SET DEFAULT '{}';
ALTER TABLE cache_items ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE cache_items DROP COLUMN data_id;

ALTER TABLE cache_item_versions ADD COLUMN data JSON;
UPDATE cache_item_versions SET data = d.data FROM cache_item_data d
WHERE d.id = cache_item_versions.data_id;
ALTER TABLE cache_item_versions ALTER COLUMN data SET NOT NULL;
ALTER TABLE cache_item_versions ALTER COLUMN data SET STORAGE EXTERNAL;
ALTER TABLE cache_item_versions DROP COLUMN data_id;

DROP TABLE cache_item_data;

-- As created by 2026-12-01-1200001_item_history.
CREATE FUNCTION cache_items_keep_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    keep BIGINT := COALESCE(
        (SELECT CAST(value AS BIGINT) FROM site_settings WHERE name = 'history_versions'), 5);
BEGIN
    IF keep > 0 THEN
        INSERT INTO cache_item_versions
            (item_id, version, data, size_bytes, date_modified, user_id, origin, job_id)
        VALUES (OLD.id, OLD.version, OLD.data, OLD.size_bytes, OLD.date_modified,
                OLD.user_id, OLD.origin, OLD.job_id);
        DELETE FROM cache_item_versions
        WHERE item_id = OLD.id AND version <= OLD.version - keep;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cache_items_keep_version AFTER UPDATE OF version ON cache_items
FOR EACH ROW WHEN (NEW.version <> OLD.version)
EXECUTE FUNCTION cache_items_keep_version();
