-- As created by 2026-12-01-991001_item_data_apart.
CREATE OR REPLACE FUNCTION cache_items_drop_data() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM cache_item_data d USING old_rows o WHERE d.id = o.data_id;
    RETURN NULL;
END
$$;

-- Rows the foreign keys would refuse cannot be there (the trigger above deleted them
-- with their items); drop any a hand-made write left, or adding the keys fails.
DELETE FROM cache_item_versions v WHERE NOT EXISTS (SELECT 1 FROM cache_items i WHERE i.id = v.item_id);
DELETE FROM cache_item_previews p WHERE NOT EXISTS (SELECT 1 FROM cache_items i WHERE i.id = p.item_id);
ALTER TABLE cache_item_versions ADD CONSTRAINT cache_item_versions_item_id_fkey
    FOREIGN KEY (item_id) REFERENCES cache_items (id) ON DELETE CASCADE;
ALTER TABLE cache_item_previews ADD CONSTRAINT cache_item_previews_item_id_fkey
    FOREIGN KEY (item_id) REFERENCES cache_items (id) ON DELETE CASCADE;
