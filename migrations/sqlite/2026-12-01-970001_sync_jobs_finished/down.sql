DROP INDEX sync_jobs_finished;
