-- Deleting a project's whole cache in one step (issue 11); see the SQLite migration of
-- this name for the model: `projects.cache_key` (NULL: the row id), the item key
-- COALESCE(key_override, project_id, 0), and `cache_dead_keys`, the deleted keys whose
-- rows are still there, purged later in batches. The kept aggregates stay keyed by
-- project id and count live rows only.
--
-- PostgreSQL cannot change a generated column's expression in place (before 17): the
-- column is dropped (its unique key and index with it) and added again, which rewrites
-- the table once.
ALTER TABLE projects ADD COLUMN cache_key BIGINT CHECK (cache_key < 0);
CREATE UNIQUE INDEX projects_cache_key ON projects (cache_key) WHERE cache_key IS NOT NULL;

ALTER TABLE cache_items ADD COLUMN key_override BIGINT CHECK (key_override < 0);
ALTER TABLE cache_items DROP COLUMN project_key;
ALTER TABLE cache_items ADD COLUMN project_key BIGINT
    GENERATED ALWAYS AS (COALESCE(key_override, project_id, 0)) STORED;
ALTER TABLE cache_items ADD CONSTRAINT cache_items_project_key_app_name_name_key
    UNIQUE (project_key, app_name, name);
CREATE INDEX cache_items_project_modified ON cache_items (project_key, date_modified);

CREATE TABLE cache_dead_keys (
    project_key BIGINT PRIMARY KEY NOT NULL CHECK (project_key <> 0),
    project_id BIGINT NOT NULL,
    deleted_at TIMESTAMP NOT NULL
);

-- Deltas are keyed by project id (the kept rows' key), for live rows only.
CREATE OR REPLACE FUNCTION cache_items_stats_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_stat_deltas (project_key, app_name, items, bytes)
    SELECT COALESCE(project_id, 0), app_name, COUNT(*), SUM(size_bytes)
    FROM new_rows n
    WHERE NOT EXISTS (SELECT 1 FROM cache_dead_keys k WHERE k.project_key = n.project_key)
    GROUP BY COALESCE(project_id, 0), app_name;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION cache_items_stats_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_stat_deltas (project_key, app_name, items, bytes)
    SELECT COALESCE(project_id, 0), app_name, -COUNT(*), -SUM(size_bytes)
    FROM old_rows o
    WHERE NOT EXISTS (SELECT 1 FROM cache_dead_keys k WHERE k.project_key = o.project_key)
    GROUP BY COALESCE(project_id, 0), app_name;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION cache_items_stats_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_stat_deltas (project_key, app_name, items, bytes)
    SELECT key, app_name, SUM(n)::bigint, SUM(b)::bigint FROM (
        SELECT COALESCE(project_id, 0) AS key, app_name, 1 AS n, size_bytes AS b FROM new_rows r
        WHERE NOT EXISTS (SELECT 1 FROM cache_dead_keys k WHERE k.project_key = r.project_key)
        UNION ALL
        SELECT COALESCE(project_id, 0), app_name, -1, -size_bytes FROM old_rows r
        WHERE NOT EXISTS (SELECT 1 FROM cache_dead_keys k WHERE k.project_key = r.project_key)
    ) d GROUP BY key, app_name;
    RETURN NULL;
END $$;
