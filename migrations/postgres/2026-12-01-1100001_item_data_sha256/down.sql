ALTER TABLE cache_items DROP COLUMN data_sha256;
