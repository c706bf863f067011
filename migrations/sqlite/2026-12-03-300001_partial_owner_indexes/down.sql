DROP INDEX cache_items_user;
CREATE INDEX cache_items_user ON cache_items (user_id);
DROP INDEX cache_items_job;
CREATE INDEX cache_items_job ON cache_items (job_id);
DROP INDEX cache_item_versions_user;
CREATE INDEX cache_item_versions_user ON cache_item_versions (user_id);
DROP INDEX cache_item_versions_job;
CREATE INDEX cache_item_versions_job ON cache_item_versions (job_id);
