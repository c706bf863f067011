-- Scheduled syncs: the server's worker syncs a plugin per project every interval.

-- A new job origin, `scheduled`.
ALTER TABLE sync_jobs DROP CONSTRAINT sync_jobs_origin_check;
ALTER TABLE sync_jobs ADD CONSTRAINT sync_jobs_origin_check
    CHECK (origin IN ('web', 'cli', 'api', 'scheduled'));

-- A job may cover one app only (a scheduled sync covers the plugin it is for). One
-- active job per scope, the app included.
ALTER TABLE sync_jobs ADD COLUMN app_name TEXT;
DROP INDEX sync_jobs_one_active_per_scope;
CREATE UNIQUE INDEX sync_jobs_one_active_per_scope
    ON sync_jobs (COALESCE(project_id, 0), COALESCE(item_name, ''), COALESCE(app_name, ''))
    WHERE status IN ('queued', 'running');

-- A superuser's interval for a plugin (the Schedules page), over the setting and the
-- plugin's default. NULL interval: no scheduled syncs for the plugin.
CREATE TABLE sync_schedules (
    plugin TEXT PRIMARY KEY,
    interval_seconds BIGINT CHECK (interval_seconds > 0),
    updated TIMESTAMP NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX sync_schedules_user ON sync_schedules (user_id);

-- When a plugin's next scheduled sync of a project is due, and its last scheduled job.
-- `runs` counts the scheduled runs queued: a run is claimed by the conditional
-- UPDATE ... WHERE runs = <read value>, so with several servers each due run is queued
-- exactly once.
CREATE TABLE sync_schedule_runs (
    id BIGSERIAL PRIMARY KEY,
    plugin TEXT NOT NULL,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    next_run_at TIMESTAMP NOT NULL,
    runs BIGINT NOT NULL DEFAULT 0,
    last_job_id BIGINT REFERENCES sync_jobs (id) ON DELETE SET NULL,
    UNIQUE (plugin, project_id)
);
CREATE INDEX sync_schedule_runs_due ON sync_schedule_runs (plugin, next_run_at);
CREATE INDEX sync_schedule_runs_project ON sync_schedule_runs (project_id);
CREATE INDEX sync_schedule_runs_job ON sync_schedule_runs (last_job_id);
