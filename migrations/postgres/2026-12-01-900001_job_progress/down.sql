DROP TABLE sync_job_progress;
UPDATE sync_jobs SET status = 'failed' WHERE status = 'cancelled';
ALTER TABLE sync_jobs
    DROP CONSTRAINT sync_jobs_status_check,
    ADD CONSTRAINT sync_jobs_status_check CHECK (status IN ('queued', 'running', 'done', 'failed')),
    DROP COLUMN cancelled_by,
    DROP COLUMN cancel_requested;
