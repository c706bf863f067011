-- Search and sort keys written in Rust on every write (crate::db::search), so both
-- backends search all of Unicode case-insensitively and sort titles the same way:
-- SQLite's lower() folds ASCII only, and PostgreSQL's text order depends on the
-- database's collation. NULL until written: existing rows are filled at the next
-- start (db::migrate), and queries fall back to lower() for rows written meanwhile
-- by an older server.
ALTER TABLE cache_items ADD COLUMN name_fold TEXT;
ALTER TABLE cache_items ADD COLUMN app_fold TEXT;
CREATE INDEX cache_items_unfolded ON cache_items (id) WHERE name_fold IS NULL;

ALTER TABLE projects ADD COLUMN title_fold TEXT;
-- Case-folded full title with every run of digits as its length and value, so
-- "Bulk project 2" sorts before "Bulk project 10"; compared byte by byte.
ALTER TABLE projects ADD COLUMN title_sort TEXT;
CREATE INDEX projects_title_sort ON projects (title_sort, id);
