-- The overview's last sync (issue 8): whether any site-wide job started after a project
-- was created is one probe of this index, so projects no site job covered cost nothing.
CREATE INDEX sync_jobs_project_started ON sync_jobs (project_id, started);
