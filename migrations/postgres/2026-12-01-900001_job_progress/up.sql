-- Progress and cancellation of sync jobs (app_name, for targeted syncs, came with
-- 1200101_sync_schedules).
ALTER TABLE sync_jobs
    ADD COLUMN cancel_requested TIMESTAMP,
    ADD COLUMN cancelled_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    DROP CONSTRAINT sync_jobs_status_check,
    ADD CONSTRAINT sync_jobs_status_check
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled'));

-- The latest progress a running job's plugin reported (one row per job, kept after
-- the job ends). Apart from sync_jobs, so storing progress never waits for a write
-- holding the job's row.
CREATE TABLE sync_job_progress (
    job_id BIGINT PRIMARY KEY REFERENCES sync_jobs (id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    done BIGINT NOT NULL,
    total BIGINT NOT NULL,
    message TEXT NOT NULL,
    updated TIMESTAMP NOT NULL
);
