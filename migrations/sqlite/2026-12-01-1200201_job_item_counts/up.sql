-- What each plugin of a sync job did to the cache, counted when the job's plugins have
-- run: items it created, changed (a new version), wrote with unchanged data (no new
-- version), and the older items of its apps in the job's scope it did not write.
CREATE TABLE sync_job_item_counts (
    job_id INTEGER NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    created BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    unchanged BIGINT NOT NULL,
    untouched BIGINT NOT NULL,
    PRIMARY KEY (job_id, plugin)
);
