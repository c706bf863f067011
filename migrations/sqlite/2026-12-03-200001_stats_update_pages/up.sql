-- Fewer pages per item write (issue 11, REST set on SQLite). An UPDATE rewrites the
-- entry of every index on a column it SETs, even to the same value: the old
-- `cache_items_stats_update` SET bytes, newest and oldest of `cache_scope_stats` in
-- one statement, so every write, also the steady-state REST set of unchanged data
-- (same size, only `date_modified` moves forward), rewrote six of its sort indexes
-- (bytes, newest, oldest, each ascending and descending) and the `cache_app_stats` and
-- `cache_totals` rows. WAL frames per set, counted on a copy of the bench database
-- (sqlite3 shell, 20 touch + event transactions): 17.2 before, 13.2 after; the two
-- `bytes` and two `oldest` indexes no longer take a page per write.
--
-- Same results as before: each column gets its own statement, which runs only when
-- that column's value changes (bytes: the size changed; newest: the old time was the
-- newest or the new time is newer; oldest: the old time was the oldest or the new time
-- is older). The skipped cases are exactly those where the old SET left the value as
-- it was (NULL included: MAX/MIN of a NULL is NULL and a comparison with NULL is not
-- true). The kept-stats random walk (tests/kept_stats.rs) checks the aggregates
-- against a recount after every step.
DROP TRIGGER cache_items_stats_update;
CREATE TRIGGER cache_items_stats_update AFTER UPDATE OF size_bytes, date_modified ON cache_items
WHEN COALESCE(OLD.project_id, 0) = COALESCE(NEW.project_id, 0) AND OLD.app_name = NEW.app_name
BEGIN
    UPDATE cache_app_stats SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE project_key = COALESCE(NEW.project_id, 0) AND app_name = NEW.app_name
      AND OLD.size_bytes <> NEW.size_bytes;
    UPDATE cache_scope_stats SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE project_key = COALESCE(NEW.project_id, 0) AND OLD.size_bytes <> NEW.size_bytes;
    UPDATE cache_scope_stats SET newest = CASE WHEN OLD.date_modified >= newest THEN
            (SELECT MAX(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0))
            ELSE MAX(newest, NEW.date_modified) END
    WHERE project_key = COALESCE(NEW.project_id, 0)
      AND (OLD.date_modified >= newest OR NEW.date_modified > newest);
    UPDATE cache_scope_stats SET oldest = CASE WHEN OLD.date_modified <= oldest THEN
            (SELECT MIN(date_modified) FROM cache_items WHERE project_key = COALESCE(NEW.project_id, 0))
            ELSE MIN(oldest, NEW.date_modified) END
    WHERE project_key = COALESCE(NEW.project_id, 0)
      AND (OLD.date_modified <= oldest OR NEW.date_modified < oldest);
    UPDATE cache_totals SET bytes = bytes - OLD.size_bytes + NEW.size_bytes
    WHERE NEW.project_id IS NOT NULL AND OLD.size_bytes <> NEW.size_bytes;
END;
