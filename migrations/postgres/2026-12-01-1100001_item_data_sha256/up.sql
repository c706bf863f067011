-- SHA-256 of the item's JSON text exactly as stored (lowercase hex), computed where a
-- write already holds the bytes. The retrieve ETag is derived from it (no pass over the
-- data per request), and it tells whether a write changed the data. NULL only for rows
-- written before this column existed, until their next write (backfilled here).
ALTER TABLE cache_items ADD COLUMN data_sha256 TEXT CHECK (length(data_sha256) = 64);
UPDATE cache_items SET data_sha256 = encode(sha256(convert_to(data::text, 'UTF8')), 'hex');
