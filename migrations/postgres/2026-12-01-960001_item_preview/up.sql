-- The item page's preview of a large item (issue 8): the first part of the data (at
-- most 1 MiB, cut at a UTF-8 boundary by the writer) of every item larger than 4 MiB,
-- written in the item's write transaction and tagged with the hash of the data it was
-- cut from (the page uses it only while that matches). Smaller items are read whole.
-- Reading it fetches only its own TOAST chunks; cutting the json value in SQL
-- (`substr(data::text, ...)`) detoasted all of it. A table beside cache_items rather
-- than a column of it: Diesel is built with 16-column tables, which cache_items fills.
CREATE TABLE cache_item_previews (
    item_id BIGINT PRIMARY KEY REFERENCES cache_items (id) ON DELETE CASCADE,
    data_sha256 TEXT NOT NULL CHECK (length(data_sha256) = 64),
    preview TEXT NOT NULL
);
-- Out of line, uncompressed, like cache_items.data: the write costs no compression.
ALTER TABLE cache_item_previews ALTER COLUMN preview SET STORAGE EXTERNAL;

-- An item that shrinks below the limit drops its preview.
CREATE FUNCTION cache_items_drop_preview() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM cache_item_previews WHERE item_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER cache_items_drop_preview AFTER UPDATE OF size_bytes ON cache_items
FOR EACH ROW WHEN (OLD.size_bytes > 4194304 AND NEW.size_bytes <= 4194304)
EXECUTE FUNCTION cache_items_drop_preview();

-- Backfill. left() counts characters; the reader cuts to 1 MiB bytes.
INSERT INTO cache_item_previews (item_id, data_sha256, preview)
SELECT id, data_sha256, left(data::text, 1048576) FROM cache_items
WHERE size_bytes > 4194304 AND data_sha256 IS NOT NULL;
