-- Scheduled syncs: the server's worker syncs a plugin per project every interval.
--
-- A job may cover one app only (a scheduled sync covers the plugin it is for). One
-- active job per scope, the app included.
ALTER TABLE sync_jobs ADD COLUMN app_name TEXT;
DROP INDEX sync_jobs_one_active_per_scope;
CREATE UNIQUE INDEX sync_jobs_one_active_per_scope
    ON sync_jobs (COALESCE(project_id, 0), COALESCE(item_name, ''), COALESCE(app_name, ''))
    WHERE status IN ('queued', 'running');

-- A new job origin, `scheduled`. SQLite cannot alter a CHECK constraint, and a table
-- rebuild would drop the jobs' plugin outcomes through ON DELETE CASCADE (foreign keys
-- are on inside the migration's transaction). This is SQLite's documented procedure for
-- loosening a CHECK constraint in place ("Making Other Kinds Of Table Schema Changes",
-- sqlite.org/lang_altertable.html): edit the stored CREATE TABLE text; every existing
-- row satisfies the wider constraint. It comes after the ALTER TABLE (which edits the
-- same text at offsets it parsed before); RESET reloads this connection's schema, and
-- the CREATE TABLE after it bumps the schema cookie, so every other connection does too.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, 'CHECK (origin IN (''web'', ''cli'', ''api''))',
                       'CHECK (origin IN (''web'', ''cli'', ''api'', ''scheduled''))')
WHERE type = 'table' AND name = 'sync_jobs';
PRAGMA writable_schema = RESET;

-- A superuser's interval for a plugin (the Schedules page), over the setting and the
-- plugin's default. NULL interval: no scheduled syncs for the plugin.
CREATE TABLE sync_schedules (
    plugin TEXT PRIMARY KEY,
    interval_seconds BIGINT CHECK (interval_seconds > 0),
    updated TIMESTAMP NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX sync_schedules_user ON sync_schedules (user_id);

-- When a plugin's next scheduled sync of a project is due, and its last scheduled job.
-- `runs` counts the scheduled runs queued: a run is claimed by the conditional
-- UPDATE ... WHERE runs = <read value>, so with several servers each due run is queued
-- exactly once.
CREATE TABLE sync_schedule_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin TEXT NOT NULL,
    project_id INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    next_run_at TIMESTAMP NOT NULL,
    runs BIGINT NOT NULL DEFAULT 0,
    last_job_id INTEGER REFERENCES sync_jobs (id) ON DELETE SET NULL,
    UNIQUE (plugin, project_id)
);
CREATE INDEX sync_schedule_runs_due ON sync_schedule_runs (plugin, next_run_at);
CREATE INDEX sync_schedule_runs_project ON sync_schedule_runs (project_id);
CREATE INDEX sync_schedule_runs_job ON sync_schedule_runs (last_job_id);
