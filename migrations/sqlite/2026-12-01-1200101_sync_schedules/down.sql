DROP TABLE sync_schedule_runs;
DROP TABLE sync_schedules;
-- Scheduled jobs cannot stay under the narrower constraint.
DELETE FROM sync_jobs WHERE origin = 'scheduled';
PRAGMA writable_schema = ON;
UPDATE sqlite_master
SET sql = replace(sql, 'CHECK (origin IN (''web'', ''cli'', ''api'', ''scheduled''))',
                       'CHECK (origin IN (''web'', ''cli'', ''api''))')
WHERE type = 'table' AND name = 'sync_jobs';
PRAGMA writable_schema = RESET;
-- The DDL below bumps the schema cookie: every connection reloads the schema.
DROP INDEX sync_jobs_one_active_per_scope;
ALTER TABLE sync_jobs DROP COLUMN app_name;
CREATE UNIQUE INDEX sync_jobs_one_active_per_scope
    ON sync_jobs (COALESCE(project_id, 0), COALESCE(item_name, ''))
    WHERE status IN ('queued', 'running');
