DROP TABLE sync_schedule_runs;
DROP TABLE sync_schedules;
DROP INDEX sync_jobs_one_active_per_scope;
ALTER TABLE sync_jobs DROP COLUMN app_name;
CREATE UNIQUE INDEX sync_jobs_one_active_per_scope
    ON sync_jobs (COALESCE(project_id, 0), COALESCE(item_name, ''))
    WHERE status IN ('queued', 'running');
DELETE FROM sync_jobs WHERE origin = 'scheduled';
ALTER TABLE sync_jobs DROP CONSTRAINT sync_jobs_origin_check;
ALTER TABLE sync_jobs ADD CONSTRAINT sync_jobs_origin_check CHECK (origin IN ('web', 'cli', 'api'));
