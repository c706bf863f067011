DROP INDEX projects_last_sync_failed;
CREATE INDEX projects_last_sync_failed ON projects (title_sort, id) WHERE last_sync_status = 'failed';
