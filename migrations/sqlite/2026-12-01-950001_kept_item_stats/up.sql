-- Kept aggregates of the items (issues 8 and 11): per scope and app, per scope, and for
-- all projects, so the overview, the project page and the REST list read counts instead
-- of counting. Scope key as `cache_items.project_key` (0: the site-wide items). A row
-- exists while its scope (and app) has items. SQLite has one writer at a time, so the
-- triggers update the rows directly, inside the write's own statement: every write path
-- (single and bulk set, plugin sync, deletes, a project's cascade) is covered.
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
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    projects BIGINT NOT NULL,
    items BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);

INSERT INTO cache_app_stats (project_key, app_name, items, bytes)
SELECT COALESCE(project_id, 0), app_name, COUNT(*), SUM(size_bytes)
FROM cache_items GROUP BY COALESCE(project_id, 0), app_name;

INSERT INTO cache_scope_stats (project_key, items, bytes, newest, oldest)
SELECT COALESCE(project_id, 0), COUNT(*), SUM(size_bytes), MAX(date_modified), MIN(date_modified)
FROM cache_items GROUP BY COALESCE(project_id, 0);

INSERT INTO cache_totals (id, projects, items, bytes) VALUES (1,
    (SELECT COUNT(*) FROM projects WHERE project_type = 'PROJECT'),
    (SELECT COUNT(*) FROM cache_items WHERE project_id IS NOT NULL),
    (SELECT COALESCE(SUM(size_bytes), 0) FROM cache_items WHERE project_id IS NOT NULL));

CREATE TRIGGER cache_items_stats_insert AFTER INSERT ON cache_items
BEGIN
    INSERT INTO cache_app_stats (project_key, app_name, items, bytes)
    VALUES (COALESCE(NEW.project_id, 0), NEW.app_name, 1, NEW.size_bytes)
    ON CONFLICT (project_key, app_name) DO UPDATE
        SET items = items + 1, bytes = bytes + excluded.bytes;
    INSERT INTO cache_scope_stats (project_key, items, bytes, newest, oldest)
    VALUES (COALESCE(NEW.project_id, 0), 1, NEW.size_bytes, NEW.date_modified, NEW.date_modified)
    ON CONFLICT (project_key) DO UPDATE
        SET items = items + 1, bytes = bytes + excluded.bytes,
            newest = MAX(newest, excluded.newest), oldest = MIN(oldest, excluded.oldest);
    UPDATE cache_totals SET items = items + 1, bytes = bytes + NEW.size_bytes
    WHERE NEW.project_id IS NOT NULL;
END;

-- Newest and oldest come from the (project_key, date_modified) index when the row that
-- held one of them goes or changes.
CREATE TRIGGER cache_items_stats_delete AFTER DELETE ON cache_items
BEGIN
    UPDATE cache_app_stats SET items = items - 1, bytes = bytes - OLD.size_bytes
    WHERE project_key = COALESCE(OLD.project_id, 0) AND app_name = OLD.app_name;
    DELETE FROM cache_app_stats
    WHERE project_key = COALESCE(OLD.project_id, 0) AND app_name = OLD.app_name AND items <= 0;
    UPDATE cache_scope_stats SET items = items - 1, bytes = bytes - OLD.size_bytes,
        newest = CASE WHEN OLD.date_modified >= newest THEN
            (SELECT MAX(date_modified) FROM cache_items WHERE project_key = COALESCE(OLD.project_id, 0))
            ELSE newest END,
        oldest = CASE WHEN OLD.date_modified <= oldest THEN
            (SELECT MIN(date_modified) FROM cache_items WHERE project_key = COALESCE(OLD.project_id, 0))
            ELSE oldest END
    WHERE project_key = COALESCE(OLD.project_id, 0);
    DELETE FROM cache_scope_stats WHERE project_key = COALESCE(OLD.project_id, 0) AND items <= 0;
    UPDATE cache_totals SET items = items - 1, bytes = bytes - OLD.size_bytes
    WHERE OLD.project_id IS NOT NULL;
END;

-- A write that keeps scope and app (every upsert): size and times.
CREATE TRIGGER cache_items_stats_update AFTER UPDATE OF size_bytes, date_modified ON cache_items
WHEN COALESCE(OLD.project_id, 0) = COALESCE(NEW.project_id, 0) AND OLD.app_name = NEW.app_name
BEGIN
    UPDATE cache_app_stats SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE project_key = COALESCE(NEW.project_id, 0) AND app_name = NEW.app_name;
    UPDATE cache_scope_stats SET bytes = bytes - OLD.size_bytes + NEW.size_bytes,
        newest = CASE WHEN OLD.date_modified >= newest THEN
            (SELECT MAX(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0))
            ELSE MAX(newest, NEW.date_modified) END,
        oldest = CASE WHEN OLD.date_modified <= oldest THEN
            (SELECT MIN(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0))
            ELSE MIN(oldest, NEW.date_modified) END
    WHERE project_key = COALESCE(NEW.project_id, 0);
    UPDATE cache_totals SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE NEW.project_id IS NOT NULL;
END;

-- An update that moves an item to another scope or app (no code path does; SQL may):
-- out of the old rows, into the new ones.
CREATE TRIGGER cache_items_stats_move AFTER UPDATE OF project_id, app_name ON cache_items
WHEN COALESCE(OLD.project_id, 0) <> COALESCE(NEW.project_id, 0) OR OLD.app_name <> NEW.app_name
BEGIN
    UPDATE cache_app_stats SET items = items - 1, bytes = bytes - OLD.size_bytes
    WHERE project_key = COALESCE(OLD.project_id, 0) AND app_name = OLD.app_name;
    DELETE FROM cache_app_stats
    WHERE project_key = COALESCE(OLD.project_id, 0) AND app_name = OLD.app_name AND items <= 0;
    INSERT INTO cache_app_stats (project_key, app_name, items, bytes)
    VALUES (COALESCE(NEW.project_id, 0), NEW.app_name, 1, NEW.size_bytes)
    ON CONFLICT (project_key, app_name) DO UPDATE
        SET items = items + 1, bytes = bytes + excluded.bytes;
    UPDATE cache_scope_stats SET items = items - 1, bytes = bytes - OLD.size_bytes,
        newest = (SELECT MAX(date_modified) FROM cache_items WHERE project_key = COALESCE(OLD.project_id, 0)),
        oldest = (SELECT MIN(date_modified) FROM cache_items WHERE project_key = COALESCE(OLD.project_id, 0))
    WHERE project_key = COALESCE(OLD.project_id, 0);
    DELETE FROM cache_scope_stats WHERE project_key = COALESCE(OLD.project_id, 0) AND items <= 0;
    INSERT INTO cache_scope_stats (project_key, items, bytes, newest, oldest)
    VALUES (COALESCE(NEW.project_id, 0), 1, NEW.size_bytes, NEW.date_modified, NEW.date_modified)
    ON CONFLICT (project_key) DO UPDATE
        SET items = items + 1, bytes = bytes + excluded.bytes,
            newest = (SELECT MAX(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0)),
            oldest = (SELECT MIN(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0));
    UPDATE cache_totals SET
        items = items - (OLD.project_id IS NOT NULL) + (NEW.project_id IS NOT NULL),
        bytes = bytes - (CASE WHEN OLD.project_id IS NOT NULL THEN OLD.size_bytes ELSE 0 END)
                      + (CASE WHEN NEW.project_id IS NOT NULL THEN NEW.size_bytes ELSE 0 END);
END;

CREATE TRIGGER projects_stats_insert AFTER INSERT ON projects WHEN NEW.project_type = 'PROJECT'
BEGIN
    UPDATE cache_totals SET projects = projects + 1;
END;

CREATE TRIGGER projects_stats_delete AFTER DELETE ON projects WHEN OLD.project_type = 'PROJECT'
BEGIN
    UPDATE cache_totals SET projects = projects - 1;
END;

CREATE TRIGGER projects_stats_retype AFTER UPDATE OF project_type ON projects
WHEN OLD.project_type <> NEW.project_type
BEGIN
    UPDATE cache_totals SET projects = projects
        + (NEW.project_type = 'PROJECT') - (OLD.project_type = 'PROJECT');
END;
