-- Progress and cancellation of sync jobs (app_name, for targeted syncs, came with
-- 1200101_sync_schedules). Columns are added, not the
-- table rebuilt: dropping sync_jobs would fire the foreign-key actions of the tables
-- referencing it (plugin outcomes, item provenance).
ALTER TABLE sync_jobs ADD COLUMN cancel_requested TIMESTAMP;
ALTER TABLE sync_jobs ADD COLUMN cancelled_by INTEGER REFERENCES users (id) ON DELETE SET NULL;

-- A new status, `cancelled`: SQLite cannot change a CHECK constraint, so the status
-- column is replaced by one with the wider check (values copied, row ids kept).
DROP INDEX sync_jobs_one_active_per_scope;
DROP INDEX sync_jobs_status;
ALTER TABLE sync_jobs RENAME COLUMN status TO status_before_cancel;
ALTER TABLE sync_jobs ADD COLUMN status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled'));
UPDATE sync_jobs SET status = status_before_cancel;
ALTER TABLE sync_jobs DROP COLUMN status_before_cancel;

-- At most one queued or running job per exact scope (project, app, item name).
CREATE UNIQUE INDEX sync_jobs_one_active_per_scope
    ON sync_jobs (COALESCE(project_id, 0), COALESCE(item_name, ''), COALESCE(app_name, ''))
    WHERE status IN ('queued', 'running');
CREATE INDEX sync_jobs_status ON sync_jobs (status, id);

-- The latest progress a running job's plugin reported (one row per job, kept after
-- the job ends). Apart from sync_jobs, so storing progress never waits for a write
-- holding the job's row.
CREATE TABLE sync_job_progress (
    job_id INTEGER PRIMARY KEY REFERENCES sync_jobs (id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    done BIGINT NOT NULL,
    total BIGINT NOT NULL,
    message TEXT NOT NULL,
    updated TIMESTAMP NOT NULL
);
