DROP INDEX sync_jobs_project_started;
