-- The overview at 5,000 projects (issue 8): every sort and filter of the page is an index
-- walk that stops at the page, so its cost does not grow with the number of projects.

-- 1. The natural title key is always there (Project::create writes it). Rows an older
-- server wrote without it get the plain lowercase title now, and the real key from
-- db::search::backfill at the start, which looks for rows without `title_fold`.
UPDATE projects SET title_sort = lower(full_title) WHERE title_sort IS NULL;
ALTER TABLE projects ALTER COLUMN title_sort SET NOT NULL;

-- 2. The last sync of each project, kept: the newest (highest id) finished job that
-- covered it, its own or a site-wide job started at or after the project was created,
-- with that job's finish time and status. Kept by the triggers below in the statement
-- that finishes (or inserts) a job, so every path (worker, cancel, stale sweep, SQL) is
-- covered; a finished job is never reopened. A site job's update of every project
-- takes an advisory lock first, so two site jobs finishing at once (two instances)
-- queue instead of deadlocking on the project rows.
ALTER TABLE projects ADD COLUMN last_sync_job BIGINT;
ALTER TABLE projects ADD COLUMN last_sync_finished TIMESTAMP;
ALTER TABLE projects ADD COLUMN last_sync_status TEXT;

CREATE FUNCTION project_last_sync(p_id BIGINT, p_created TIMESTAMP) RETURNS BIGINT
LANGUAGE sql STABLE AS $$
    SELECT NULLIF(GREATEST(
        COALESCE((SELECT MAX(o.id) FROM sync_jobs o WHERE o.project_id = p_id
                  AND o.status IN ('done', 'failed', 'cancelled')), 0),
        COALESCE((SELECT MAX(s.id) FROM sync_jobs s WHERE s.project_id IS NULL
                  AND s.status IN ('done', 'failed', 'cancelled')
                  AND s.started >= p_created), 0)), 0)
$$;

UPDATE projects SET (last_sync_job, last_sync_finished, last_sync_status) = (
    SELECT j.id, j.finished, j.status FROM sync_jobs j
    WHERE j.id = project_last_sync(projects.id, projects.date_created));

CREATE FUNCTION sync_jobs_last_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status NOT IN ('done', 'failed', 'cancelled') THEN
        RETURN NULL;
    END IF;
    IF NEW.project_id IS NOT NULL THEN
        UPDATE projects SET last_sync_job = NEW.id, last_sync_finished = NEW.finished,
            last_sync_status = NEW.status
        WHERE id = NEW.project_id AND COALESCE(last_sync_job, 0) <= NEW.id;
    ELSIF NEW.started IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(7306447462);
        UPDATE projects SET last_sync_job = NEW.id, last_sync_finished = NEW.finished,
            last_sync_status = NEW.status
        WHERE date_created <= NEW.started AND COALESCE(last_sync_job, 0) <= NEW.id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sync_jobs_last_sync AFTER INSERT OR UPDATE OF status, started, finished
    ON sync_jobs FOR EACH ROW EXECUTE FUNCTION sync_jobs_last_sync();

-- A new project, or one whose creation time changes (SQL only), is worked out whole.
CREATE FUNCTION projects_last_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT j.id, j.finished, j.status
    INTO NEW.last_sync_job, NEW.last_sync_finished, NEW.last_sync_status
    FROM sync_jobs j WHERE j.id = project_last_sync(NEW.id, NEW.date_created);
    IF NOT FOUND THEN
        NEW.last_sync_job := NULL;
        NEW.last_sync_finished := NULL;
        NEW.last_sync_status := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER projects_last_sync BEFORE INSERT OR UPDATE OF date_created ON projects
    FOR EACH ROW EXECUTE FUNCTION projects_last_sync();

-- Sort by last sync (ties by title, either direction), and the failed filter.
CREATE INDEX projects_last_sync_asc ON projects (last_sync_finished, title_sort, id);
CREATE INDEX projects_last_sync_desc ON projects (last_sync_finished DESC, title_sort, id);
CREATE INDEX projects_last_sync_failed ON projects (title_sort, id) WHERE last_sync_status = 'failed';

-- 3. The kept per-scope aggregates carry their project's title key, so a sort by items,
-- size, newest or oldest (ties by title) walks one index of cache_scope_stats.
ALTER TABLE cache_scope_stats ADD COLUMN title_sort TEXT COLLATE "C";
UPDATE cache_scope_stats SET title_sort =
    (SELECT p.title_sort FROM projects p WHERE p.id = cache_scope_stats.project_key);
CREATE FUNCTION cache_scope_stats_title() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.title_sort := (SELECT p.title_sort FROM projects p WHERE p.id = NEW.project_key);
    RETURN NEW;
END $$;
CREATE TRIGGER cache_scope_stats_title BEFORE INSERT ON cache_scope_stats
    FOR EACH ROW EXECUTE FUNCTION cache_scope_stats_title();
DROP INDEX cache_scope_stats_items;
DROP INDEX cache_scope_stats_bytes;
DROP INDEX cache_scope_stats_newest;
DROP INDEX cache_scope_stats_oldest;
CREATE INDEX cache_scope_stats_items ON cache_scope_stats (items, title_sort, project_key);
CREATE INDEX cache_scope_stats_items_desc ON cache_scope_stats (items DESC, title_sort, project_key);
CREATE INDEX cache_scope_stats_bytes ON cache_scope_stats (bytes, title_sort, project_key);
CREATE INDEX cache_scope_stats_bytes_desc ON cache_scope_stats (bytes DESC, title_sort, project_key);
CREATE INDEX cache_scope_stats_newest ON cache_scope_stats (newest, title_sort, project_key);
CREATE INDEX cache_scope_stats_newest_desc ON cache_scope_stats (newest DESC, title_sort, project_key);
CREATE INDEX cache_scope_stats_oldest ON cache_scope_stats (oldest, title_sort, project_key);
CREATE INDEX cache_scope_stats_oldest_desc ON cache_scope_stats (oldest DESC, title_sort, project_key);

-- 4. Items and bytes per app over every project (not the site-wide items), for the
-- superuser's dashboard: kept from the per-scope-and-app rows, which only the fold
-- (one transaction at a time per row) writes on PostgreSQL.
CREATE TABLE cache_app_totals (
    app_name TEXT PRIMARY KEY,
    items BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);
INSERT INTO cache_app_totals (app_name, items, bytes)
SELECT app_name, SUM(items), SUM(bytes) FROM cache_app_stats WHERE project_key <> 0 GROUP BY app_name;
CREATE FUNCTION cache_app_totals_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.project_key <> 0 THEN
        UPDATE cache_app_totals SET items = items - OLD.items, bytes = bytes - OLD.bytes
        WHERE app_name = OLD.app_name;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.project_key <> 0 THEN
        INSERT INTO cache_app_totals AS t (app_name, items, bytes)
        VALUES (NEW.app_name, NEW.items, NEW.bytes)
        ON CONFLICT (app_name) DO UPDATE
            SET items = t.items + excluded.items, bytes = t.bytes + excluded.bytes;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER cache_app_totals_keep AFTER INSERT OR UPDATE OR DELETE ON cache_app_stats
    FOR EACH ROW EXECUTE FUNCTION cache_app_totals_keep();

-- 5. The dashboard's age chart counts only items older than a cutoff: a range of this.
CREATE INDEX cache_items_modified ON cache_items (date_modified);

-- 6. What a user (not a superuser) may read starts from their roles and the public
-- projects (auth::visibility::readable_projects_sql): the public ones by this.
CREATE INDEX projects_public_guest ON projects (id) WHERE public_access = 'guest';
