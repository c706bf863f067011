-- Server-side login sessions (Django's database session backend): the cookie carries a
-- random key, the database its SHA-256 digest. Revoking a session deletes its row, so
-- every server instance sees it at once. A session ends at `expires` (absolute
-- lifetime) or when `last_seen` is older than the idle timeout; expired rows are pruned.
CREATE TABLE user_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_digest TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL,
    expires TIMESTAMP NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_last_seen ON user_sessions (last_seen);
