DROP TRIGGER cache_items_keep_version ON cache_items;
DROP FUNCTION cache_items_keep_version();
DROP TABLE cache_item_versions;
DROP INDEX cache_items_job;
ALTER TABLE cache_items DROP COLUMN job_id;
ALTER TABLE cache_items DROP COLUMN origin;
ALTER TABLE cache_items DROP COLUMN version;
