DROP INDEX projects_title_sort;
ALTER TABLE projects DROP COLUMN title_sort;
ALTER TABLE projects DROP COLUMN title_fold;
DROP INDEX cache_items_unfolded;
ALTER TABLE cache_items DROP COLUMN app_fold;
ALTER TABLE cache_items DROP COLUMN name_fold;
