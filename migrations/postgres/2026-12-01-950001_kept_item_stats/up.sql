-- Kept aggregates of the items (issues 8 and 11): per scope and app, per scope, and for
-- all projects, so the overview, the project page and the REST list read counts instead
-- of counting. Scope key as `cache_items.project_key` (0: the site-wide items). A row
-- exists while its scope (and app) has items.
--
-- Writers never update these rows: on PostgreSQL a counter row updated inside every write
-- would be held locked until that write's commit (its WAL flush), and concurrent writers
-- to one project would queue on it (measured: 16 clients inserting rows 1,790/s, the same
-- with one shared counter row updated 248/s). Instead statement-level triggers append the
-- write's deltas to `cache_stat_deltas` (plain inserts, no lock shared with anyone), in
-- the write's own transaction, so every write path is covered; readers fold the pending
-- deltas into the kept rows first (`sodarcache::db::models::kept_stats::fold`), in a
-- short transaction of their own.
CREATE TABLE cache_app_stats (
    project_key BIGINT NOT NULL,
    app_name TEXT NOT NULL,
    items BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (project_key, app_name)
);

CREATE TABLE cache_scope_stats (
    project_key BIGINT PRIMARY KEY NOT NULL,
    items BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    newest TIMESTAMP,
    oldest TIMESTAMP
);
CREATE INDEX cache_scope_stats_items ON cache_scope_stats (items, project_key);
CREATE INDEX cache_scope_stats_bytes ON cache_scope_stats (bytes, project_key);
CREATE INDEX cache_scope_stats_newest ON cache_scope_stats (newest, project_key);
CREATE INDEX cache_scope_stats_oldest ON cache_scope_stats (oldest, project_key);

-- Projects (type PROJECT), and the items and bytes in any project (not site-wide).
CREATE TABLE cache_totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    projects BIGINT NOT NULL,
    items BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);

-- Not yet folded: one row per write statement and scope and app.
CREATE TABLE cache_stat_deltas (
    project_key BIGINT NOT NULL,
    app_name TEXT NOT NULL,
    items BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);

INSERT INTO cache_app_stats (project_key, app_name, items, bytes)
SELECT project_key, app_name, COUNT(*), SUM(size_bytes)
FROM cache_items GROUP BY project_key, app_name;

INSERT INTO cache_scope_stats (project_key, items, bytes, newest, oldest)
SELECT project_key, COUNT(*), SUM(size_bytes), MAX(date_modified), MIN(date_modified)
FROM cache_items GROUP BY project_key;

INSERT INTO cache_totals (id, projects, items, bytes) VALUES (1,
    (SELECT COUNT(*) FROM projects WHERE project_type = 'PROJECT'),
    (SELECT COUNT(*) FROM cache_items WHERE project_id IS NOT NULL),
    (SELECT COALESCE(SUM(size_bytes), 0) FROM cache_items WHERE project_id IS NOT NULL));

CREATE FUNCTION cache_items_stats_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_stat_deltas (project_key, app_name, items, bytes)
    SELECT project_key, app_name, COUNT(*), SUM(size_bytes)
    FROM new_rows GROUP BY project_key, app_name;
    RETURN NULL;
END $$;

CREATE FUNCTION cache_items_stats_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_stat_deltas (project_key, app_name, items, bytes)
    SELECT project_key, app_name, -COUNT(*), -SUM(size_bytes)
    FROM old_rows GROUP BY project_key, app_name;
    RETURN NULL;
END $$;

-- Every update, also one that changes neither size nor key: the fold then takes the
-- scope's newest and oldest times from the index again.
CREATE FUNCTION cache_items_stats_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cache_stat_deltas (project_key, app_name, items, bytes)
    SELECT project_key, app_name, SUM(n)::bigint, SUM(b)::bigint FROM (
        SELECT project_key, app_name, 1 AS n, size_bytes AS b FROM new_rows
        UNION ALL
        SELECT project_key, app_name, -1, -size_bytes FROM old_rows
    ) d GROUP BY project_key, app_name;
    RETURN NULL;
END $$;

CREATE TRIGGER cache_items_stats_insert AFTER INSERT ON cache_items
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_items_stats_insert();
CREATE TRIGGER cache_items_stats_delete AFTER DELETE ON cache_items
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_items_stats_delete();
CREATE TRIGGER cache_items_stats_update AFTER UPDATE ON cache_items
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cache_items_stats_update();

-- Projects change rarely: their count is kept directly.
CREATE FUNCTION projects_stats_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_totals SET projects = projects
        + (CASE WHEN TG_OP <> 'DELETE' AND NEW.project_type = 'PROJECT' THEN 1 ELSE 0 END)
        - (CASE WHEN TG_OP <> 'INSERT' AND OLD.project_type = 'PROJECT' THEN 1 ELSE 0 END);
    RETURN NULL;
END $$;

CREATE TRIGGER projects_stats_count AFTER INSERT OR DELETE OR UPDATE OF project_type ON projects
    FOR EACH ROW EXECUTE FUNCTION projects_stats_count();
