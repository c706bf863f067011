DROP TRIGGER projects_title_sort_stats ON projects;
DROP FUNCTION projects_title_sort_stats();
