DROP TRIGGER cache_items_drop_preview ON cache_items;
DROP FUNCTION cache_items_drop_preview();
DROP TABLE cache_item_previews;
