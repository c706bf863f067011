-- Bulk deletes (issue 11): deleting many items is set-based work. The kept aggregates
-- and the data rows already go by statement-level triggers over the deleted rows
-- (950001, 991001); what was left per row were the foreign-key cascades from
-- `cache_item_versions.item_id` and `cache_item_previews.item_id`: PostgreSQL runs
-- each as a trigger per deleted item that issues a DELETE through SPI, also when the
-- item has no versions or preview. EXPLAIN ANALYZE of `DELETE FROM cache_items` for a
-- project of 10,000 items (loaded machine): 440 ms, of which 176 ms in the versions'
-- cascade and 136 ms in the previews' (10,000 calls each); 157 ms without them.
--
-- The cascades become part of the statement-level trigger that already drops the
-- deleted items' data: versions and previews of the deleted items go in one statement
-- each (joined to the deleted rows, a hash join or index lookups as the planner sees
-- fit; the transition table's row count is known to it). A project's deletion still
-- reaches its items through their own cascade from `projects`, and then this trigger.
--
-- Without the foreign keys nothing refuses a version or preview row for an item that
-- does not exist: versions are written only by `cache_items_keep_version` (from rows
-- of cache_items it has just updated) and previews only by the item's own write
-- transaction, after the upsert that locks the item's row, so a concurrent delete
-- waits for that write and its trigger then sees the new rows (READ COMMITTED: each
-- statement of the trigger takes a fresh snapshot). `tests/item_data.rs` checks after
-- every kind of write and delete that no version or preview outlives its item.
ALTER TABLE cache_item_versions DROP CONSTRAINT cache_item_versions_item_id_fkey;
ALTER TABLE cache_item_previews DROP CONSTRAINT cache_item_previews_item_id_fkey;

CREATE OR REPLACE FUNCTION cache_items_drop_data() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM cache_item_versions v USING old_rows o WHERE v.item_id = o.id;
    DELETE FROM cache_item_previews p USING old_rows o WHERE p.item_id = o.id;
    DELETE FROM cache_item_data d USING old_rows o WHERE d.id = o.data_id;
    RETURN NULL;
END
$$;
