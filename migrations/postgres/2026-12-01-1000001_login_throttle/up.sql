-- Login throttling as counters (django-axes' rules), replacing one row per failure:
-- one row per (address, username) pair and one per address (username ''), each the
-- failures within the cool-off plus the checks in flight, counted up in one atomic
-- upsert before a password is checked. Rows older than the cool-off are pruned.
DROP TABLE login_attempts;
CREATE TABLE login_failures (
    address TEXT NOT NULL,
    username TEXT NOT NULL,
    failures INTEGER NOT NULL CHECK (failures >= 0),
    last_at TIMESTAMP NOT NULL,
    PRIMARY KEY (address, username)
);
CREATE INDEX login_failures_last_at ON login_failures (last_at);
