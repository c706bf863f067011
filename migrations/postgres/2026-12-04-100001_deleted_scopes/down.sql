-- Back to one key per project: rows under deleted keys go first (not in the aggregates),
-- then the generated column and the triggers are as before.
DELETE FROM cache_items WHERE project_key IN (SELECT project_key FROM cache_dead_keys);
DROP TABLE cache_dead_keys;
ALTER TABLE cache_items DROP COLUMN project_key;
ALTER TABLE cache_items DROP COLUMN key_override;
ALTER TABLE cache_items ADD COLUMN project_key BIGINT GENERATED ALWAYS AS (COALESCE(project_id, 0)) STORED;
ALTER TABLE cache_items ADD CONSTRAINT cache_items_project_key_app_name_name_key
    UNIQUE (project_key, app_name, name);
CREATE INDEX cache_items_project_modified ON cache_items (project_key, date_modified);
DROP INDEX projects_cache_key;
ALTER TABLE projects DROP COLUMN cache_key;

CREATE OR REPLACE FUNCTION cache_items_stats_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_stat_deltas (project_key, app_name, items, bytes)
    SELECT project_key, app_name, COUNT(*), SUM(size_bytes)
    FROM new_rows GROUP BY project_key, app_name;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION cache_items_stats_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_stat_deltas (project_key, app_name, items, bytes)
    SELECT project_key, app_name, -COUNT(*), -SUM(size_bytes)
    FROM old_rows GROUP BY project_key, app_name;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION cache_items_stats_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_stat_deltas (project_key, app_name, items, bytes)
    SELECT project_key, app_name, SUM(n)::bigint, SUM(b)::bigint FROM (
        SELECT project_key, app_name, 1 AS n, size_bytes AS b FROM new_rows
        UNION ALL
        SELECT project_key, app_name, -1, -size_bytes FROM old_rows
    ) d GROUP BY project_key, app_name;
    RETURN NULL;
END $$;
