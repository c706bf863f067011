-- The overview's `status=failed` counts its matches ("page 1 of N"): with the project
-- type in the partial index of failed projects that count reads the index alone,
-- instead of every failed project's row (SQLite). The page's walk in title order
-- (`project_type = 'PROJECT' ORDER BY title_sort, id`) uses it as before.
DROP INDEX projects_last_sync_failed;
CREATE INDEX projects_last_sync_failed ON projects (project_type, title_sort, id)
    WHERE last_sync_status = 'failed';
