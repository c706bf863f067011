-- The auth epoch: one counter that every committed change to what a token request's
-- gate reads moves (the token, its user, the project, the project's ancestors, roles,
-- access blocks). A server keeps a token's decision with the epoch its statement read
-- in the same snapshot, and its next retrieve reads only the epoch and the item: when
-- the epoch moved, it runs the full statement again (`auth::token_grants`). So nothing
-- stale is ever decided, across any number of instances.
--
-- The bump is a deferred constraint trigger: it runs at commit, as the last thing the
-- writing transaction does, so the counter's row lock is never held while that
-- transaction waits for another lock (no new deadlocks), and it bumps once per
-- transaction however many rows it changed (`bumped_by`).
CREATE TABLE auth_epoch (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL,
    bumped_by XID8
);
INSERT INTO auth_epoch (id, n) VALUES (1, 0);

CREATE FUNCTION bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_epoch SET n = n + 1, bumped_by = pg_current_xact_id()
     WHERE id = 1 AND bumped_by IS DISTINCT FROM pg_current_xact_id();
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER api_tokens_auth_epoch AFTER INSERT OR UPDATE OR DELETE ON api_tokens
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_auth_epoch();
CREATE CONSTRAINT TRIGGER users_auth_epoch AFTER INSERT OR UPDATE OR DELETE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_auth_epoch();
-- Every column a `Project` reads; not the overview's kept last sync, which every
-- finished job rewrites.
CREATE CONSTRAINT TRIGGER projects_auth_epoch AFTER INSERT OR DELETE
    OR UPDATE OF id, uuid, title, project_type, parent_id, description, public_access,
        archive, full_title, date_created ON projects
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_auth_epoch();
CREATE CONSTRAINT TRIGGER project_ancestors_auth_epoch AFTER INSERT OR UPDATE OR DELETE ON project_ancestors
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_auth_epoch();
CREATE CONSTRAINT TRIGGER role_assignments_auth_epoch AFTER INSERT OR UPDATE OR DELETE ON role_assignments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_auth_epoch();
CREATE CONSTRAINT TRIGGER project_access_blocks_auth_epoch AFTER INSERT OR UPDATE OR DELETE ON project_access_blocks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_auth_epoch();

-- TRUNCATE fires no row trigger.
CREATE TRIGGER api_tokens_truncate_auth_epoch AFTER TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
CREATE TRIGGER users_truncate_auth_epoch AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
CREATE TRIGGER projects_truncate_auth_epoch AFTER TRUNCATE ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
CREATE TRIGGER project_ancestors_truncate_auth_epoch AFTER TRUNCATE ON project_ancestors
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
CREATE TRIGGER role_assignments_truncate_auth_epoch AFTER TRUNCATE ON role_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
CREATE TRIGGER project_access_blocks_truncate_auth_epoch AFTER TRUNCATE ON project_access_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION bump_auth_epoch();
