-- Back to the table of 2026-11-25-000001_init, with AUTOINCREMENT.
CREATE TABLE events_autoinc (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE CHECK (length(uuid) = 36),
    project_id INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    event_name TEXT NOT NULL,
    origin TEXT NOT NULL,
    description TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    created TIMESTAMP NOT NULL
);
INSERT INTO events_autoinc (id, uuid, project_id, user_id, event_name, origin, description, ok, created)
SELECT id, uuid, project_id, user_id, event_name, origin, description, ok, created FROM events;
DROP TABLE events;
ALTER TABLE events_autoinc RENAME TO events;
CREATE INDEX events_project ON events (project_id, id);
