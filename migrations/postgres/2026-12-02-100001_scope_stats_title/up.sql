-- cache_scope_stats.title_sort (the tie order of the overview's sorts by items, size,
-- newest and oldest) was copied from its project only when the row was inserted, so it
-- kept the old key when db::search::backfill rewrote projects.title_sort (rows an
-- older server wrote). It now follows every change, and copies gone stale are repaired.
UPDATE cache_scope_stats s SET title_sort = p.title_sort FROM projects p
WHERE p.id = s.project_key AND s.title_sort IS DISTINCT FROM p.title_sort;
CREATE FUNCTION projects_title_sort_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_scope_stats SET title_sort = NEW.title_sort WHERE project_key = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER projects_title_sort_stats AFTER UPDATE OF title_sort ON projects
    FOR EACH ROW WHEN (NEW.title_sort IS DISTINCT FROM OLD.title_sort)
    EXECUTE FUNCTION projects_title_sort_stats();
