-- sodarcache schema, PostgreSQL flavour. Mirrors migrations/sqlite exactly.
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    uuid UUID NOT NULL UNIQUE,
    username TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 150),
    password_hash TEXT NOT NULL,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    date_joined TIMESTAMP NOT NULL
);

CREATE TABLE projects (
    id BIGSERIAL PRIMARY KEY,
    uuid UUID NOT NULL UNIQUE,
    title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 255),
    project_type TEXT NOT NULL CHECK (project_type IN ('CATEGORY', 'PROJECT')),
    parent_id BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT '',
    public_access TEXT CHECK (public_access IN ('guest', 'viewer')),
    archive BOOLEAN NOT NULL DEFAULT FALSE,
    full_title TEXT NOT NULL,
    date_created TIMESTAMP NOT NULL,
    parent_key BIGINT GENERATED ALWAYS AS (COALESCE(parent_id, 0)) STORED,
    UNIQUE (parent_key, title)
);
CREATE INDEX projects_parent ON projects (parent_id);

CREATE TABLE role_assignments (
    id BIGSERIAL PRIMARY KEY,
    project_id BIGINT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'delegate', 'contributor', 'guest', 'viewer', 'finder')),
    UNIQUE (project_id, user_id)
);
CREATE UNIQUE INDEX role_assignments_one_owner ON role_assignments (project_id) WHERE role = 'owner';
CREATE INDEX role_assignments_user ON role_assignments (user_id);

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    prefix TEXT NOT NULL,
    digest TEXT NOT NULL,
    created TIMESTAMP NOT NULL,
    expiry TIMESTAMP
);
CREATE INDEX api_tokens_prefix ON api_tokens (prefix);

CREATE TABLE cache_items (
    id BIGSERIAL PRIMARY KEY,
    uuid UUID NOT NULL UNIQUE,
    project_id BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    app_name TEXT NOT NULL CHECK (length(app_name) BETWEEN 1 AND 255),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    -- json, not jsonb: validated on write, stored and served as the text that was sent
    -- (no jsonb-to-text conversion on every read of a large item; key order kept).
    data JSON NOT NULL DEFAULT '{}',
    size_bytes BIGINT NOT NULL DEFAULT 2,
    date_modified TIMESTAMP NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    project_key BIGINT GENERATED ALWAYS AS (COALESCE(project_id, 0)) STORED,
    UNIQUE (project_key, app_name, name)
);
-- Large documents are stored out of line but uncompressed: reads skip decompression.
ALTER TABLE cache_items ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX cache_items_user ON cache_items (user_id);
CREATE INDEX cache_items_project_modified ON cache_items (project_key, date_modified);

CREATE TABLE sync_jobs (
    id BIGSERIAL PRIMARY KEY,
    uuid UUID NOT NULL UNIQUE,
    project_id BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    item_name TEXT,
    origin TEXT NOT NULL CHECK (origin IN ('web', 'cli', 'api')),
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    created TIMESTAMP NOT NULL,
    started TIMESTAMP,
    finished TIMESTAMP,
    heartbeat TIMESTAMP,
    worker TEXT,
    error TEXT
);
-- At most one queued or running job per scope: a second request joins the first.
CREATE UNIQUE INDEX sync_jobs_one_active_per_scope
    ON sync_jobs (COALESCE(project_id, 0), COALESCE(item_name, ''))
    WHERE status IN ('queued', 'running');
CREATE INDEX sync_jobs_status ON sync_jobs (status, id);
CREATE INDEX sync_jobs_project ON sync_jobs (project_id, id);

CREATE TABLE sync_job_plugins (
    id BIGSERIAL PRIMARY KEY,
    job_id BIGINT NOT NULL REFERENCES sync_jobs (id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    error TEXT,
    items_written BIGINT NOT NULL DEFAULT 0,
    started TIMESTAMP NOT NULL,
    finished TIMESTAMP NOT NULL,
    UNIQUE (job_id, plugin)
);

CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    uuid UUID NOT NULL UNIQUE,
    project_id BIGINT REFERENCES projects (id) ON DELETE CASCADE,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    event_name TEXT NOT NULL,
    origin TEXT NOT NULL,
    description TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    created TIMESTAMP NOT NULL
);
CREATE INDEX events_project ON events (project_id, id);

CREATE TABLE site_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
