-- Projects whose access a superuser blocked (`sodarcache project block UUID`): every REST
-- endpoint and admin page of the project answers non-superusers 403 while a row exists.
CREATE TABLE project_access_blocks (
    project_id BIGINT PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    blocked_at TIMESTAMP NOT NULL
);
