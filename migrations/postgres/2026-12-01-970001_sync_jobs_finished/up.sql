-- The dashboards count the jobs that finished in the last days, per day and status.
CREATE INDEX sync_jobs_finished ON sync_jobs (finished);
