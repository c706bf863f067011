DROP TABLE sync_job_progress;
DROP INDEX sync_jobs_one_active_per_scope;
DROP INDEX sync_jobs_status;
UPDATE sync_jobs SET status = 'failed' WHERE status = 'cancelled';
ALTER TABLE sync_jobs RENAME COLUMN status TO status_with_cancel;
ALTER TABLE sync_jobs ADD COLUMN status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'done', 'failed'));
UPDATE sync_jobs SET status = status_with_cancel;
ALTER TABLE sync_jobs DROP COLUMN status_with_cancel;
ALTER TABLE sync_jobs DROP COLUMN cancelled_by;
ALTER TABLE sync_jobs DROP COLUMN cancel_requested;
CREATE UNIQUE INDEX sync_jobs_one_active_per_scope
    ON sync_jobs (COALESCE(project_id, 0), COALESCE(item_name, ''), COALESCE(app_name, ''))
    WHERE status IN ('queued', 'running');
CREATE INDEX sync_jobs_status ON sync_jobs (status, id);
