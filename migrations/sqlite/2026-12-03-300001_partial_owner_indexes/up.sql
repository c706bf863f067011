-- Fewer index entries per item (issue 11, `deletecache` of 10,000 items): the indexes on
-- who wrote an item or a version (user_id: a REST set; job_id: a sync) hold only the rows
-- that have one. A REST set leaves job_id NULL and a sync leaves user_id NULL, so every
-- row had at least one entry keyed NULL that no query reads: the lookups by these columns
-- are `= ?` (the foreign-key actions ON DELETE SET NULL from users and sync_jobs, the job's
-- item counts), and an equality implies IS NOT NULL, so both planners use the partial
-- index for them. Every insert, key change and delete writes one or two index entries
-- fewer. SQLite `deletecache -p` of 10,000 items (bench_fill rows, neither user nor job):
-- callgrind 410 -> 352 million instructions in the sqlite3 shell; see
-- docs/benchmarks-notes.md, "Session 6".
DROP INDEX cache_items_user;
CREATE INDEX cache_items_user ON cache_items (user_id) WHERE user_id IS NOT NULL;
DROP INDEX cache_items_job;
CREATE INDEX cache_items_job ON cache_items (job_id) WHERE job_id IS NOT NULL;
DROP INDEX cache_item_versions_user;
CREATE INDEX cache_item_versions_user ON cache_item_versions (user_id) WHERE user_id IS NOT NULL;
DROP INDEX cache_item_versions_job;
CREATE INDEX cache_item_versions_job ON cache_item_versions (job_id) WHERE job_id IS NOT NULL;
