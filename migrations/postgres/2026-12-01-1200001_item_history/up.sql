-- Item history: every write that changes an item's data bumps its version; an UPDATE
-- trigger keeps the version it replaced (data, time, writer, origin, job) and prunes
-- to the newest `history_versions` (site_settings, default 5; 0 keeps none) in the same
-- statement, so single and bulk writes alike are covered inside their transaction.
-- Deleting an item (or its project) deletes its history (ON DELETE CASCADE).
ALTER TABLE cache_items ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE cache_items ADD COLUMN origin TEXT CHECK (origin IN ('api', 'sync', 'library'));
ALTER TABLE cache_items ADD COLUMN job_id BIGINT REFERENCES sync_jobs (id) ON DELETE SET NULL;
CREATE INDEX cache_items_job ON cache_items (job_id);

CREATE TABLE cache_item_versions (
    id BIGSERIAL PRIMARY KEY,
    item_id BIGINT NOT NULL REFERENCES cache_items (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    data JSON NOT NULL,
    size_bytes BIGINT NOT NULL,
    date_modified TIMESTAMP NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    origin TEXT CHECK (origin IN ('api', 'sync', 'library')),
    job_id BIGINT REFERENCES sync_jobs (id) ON DELETE SET NULL,
    UNIQUE (item_id, version)
);
ALTER TABLE cache_item_versions ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX cache_item_versions_user ON cache_item_versions (user_id);
CREATE INDEX cache_item_versions_job ON cache_item_versions (job_id);

CREATE FUNCTION cache_items_keep_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    keep BIGINT := COALESCE(
        (SELECT CAST(value AS BIGINT) FROM site_settings WHERE name = 'history_versions'), 5);
BEGIN
    IF keep > 0 THEN
        INSERT INTO cache_item_versions
            (item_id, version, data, size_bytes, date_modified, user_id, origin, job_id)
        VALUES (OLD.id, OLD.version, OLD.data, OLD.size_bytes, OLD.date_modified,
                OLD.user_id, OLD.origin, OLD.job_id);
        DELETE FROM cache_item_versions
        WHERE item_id = OLD.id AND version <= OLD.version - keep;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cache_items_keep_version AFTER UPDATE OF version ON cache_items
FOR EACH ROW WHEN (NEW.version <> OLD.version)
EXECUTE FUNCTION cache_items_keep_version();
