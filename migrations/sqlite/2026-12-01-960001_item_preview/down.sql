-- `data` stays the last column (the order is not reverted).
DROP TRIGGER cache_items_drop_preview;
DROP TABLE cache_item_previews;
