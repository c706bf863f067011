-- PostgreSQL's auth epoch (see migrations/postgres): nothing on SQLite, whose token reads
-- are remembered until the next commit to the database (`db::loop_reads`, PRAGMA
-- data_version) and need no counter. The migration exists so both folders keep the
-- same names.
SELECT 1;
