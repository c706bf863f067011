-- Events without AUTOINCREMENT (issue 11, REST set on SQLite). AUTOINCREMENT keeps the
-- table's high-water mark in `sqlite_sequence` and rewrites that page on every insert:
-- one of the ~13 pages each REST set commits (the set records an event). Without it, a
-- new row's id is one more than the largest id in the table, so ids still only grow
-- among the rows that exist and `Event::list` (newest first, by id) orders as before;
-- an id of a deleted newest event may be given again, and nothing refers to event ids
-- (the public identifier is the UUID).
--
-- The table is rebuilt (SQLite cannot drop AUTOINCREMENT in place) with the same
-- columns, constraints and index.
CREATE TABLE events_rowid (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE CHECK (length(uuid) = 36),
    project_id INTEGER REFERENCES projects (id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    event_name TEXT NOT NULL,
    origin TEXT NOT NULL,
    description TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    created TIMESTAMP NOT NULL
);
INSERT INTO events_rowid (id, uuid, project_id, user_id, event_name, origin, description, ok, created)
SELECT id, uuid, project_id, user_id, event_name, origin, description, ok, created FROM events;
DROP TABLE events;
ALTER TABLE events_rowid RENAME TO events;
CREATE INDEX events_project ON events (project_id, id);
