//! Server-side login sessions: one row per logged-in browser, found by the digest of
//! the key its cookie carries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::User;
use crate::db::DbConn;
use crate::db::schema::{user_sessions, users};

/// A stored session.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = user_sessions)]
pub struct UserSession {
    /// Row id.
    pub id: i64,
    /// Hex SHA-256 of the cookie's key.
    pub key_digest: String,
    /// Whose.
    pub user_id: i64,
    /// Logged in (UTC).
    pub created: NaiveDateTime,
    /// Last request, to within the touch interval (UTC).
    pub last_seen: NaiveDateTime,
    /// Ends here whatever happens (UTC).
    pub expires: NaiveDateTime,
}

impl UserSession {
    /// Stores a new session for `user_id`.
    pub fn create(
        conn: &mut DbConn,
        key_digest: &str,
        user_id: i64,
        now: NaiveDateTime,
        expires: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::insert_into(user_sessions::table)
            .values((
                user_sessions::key_digest.eq(key_digest),
                user_sessions::user_id.eq(user_id),
                user_sessions::created.eq(now),
                user_sessions::last_seen.eq(now),
                user_sessions::expires.eq(expires),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// The session with this key digest and its user: one lookup on a unique index.
    pub fn find_with_user(
        conn: &mut DbConn,
        key_digest: &str,
    ) -> QueryResult<Option<(UserSession, User)>> {
        user_sessions::table
            .inner_join(users::table)
            .filter(user_sessions::key_digest.eq(key_digest))
            .select((UserSession::as_select(), User::as_select()))
            .first(conn)
            .optional()
    }

    /// Moves `last_seen` forward.
    pub fn touch(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
        diesel::update(user_sessions::table.find(id))
            .set(user_sessions::last_seen.eq(now))
            .execute(conn)?;
        Ok(())
    }

    /// Deletes the session with this key digest; whether there was one.
    pub fn delete_by_digest(conn: &mut DbConn, key_digest: &str) -> QueryResult<bool> {
        diesel::delete(user_sessions::table.filter(user_sessions::key_digest.eq(key_digest)))
            .execute(conn)
            .map(|n| n > 0)
    }

    /// Deletes every session of a user; how many.
    pub fn delete_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
        diesel::delete(user_sessions::table.filter(user_sessions::user_id.eq(user_id)))
            .execute(conn)
    }

    /// Deletes sessions past their lifetime or idle since before `idle_before`.
    pub fn prune(
        conn: &mut DbConn,
        now: NaiveDateTime,
        idle_before: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::delete(
            user_sessions::table.filter(
                user_sessions::expires
                    .le(now)
                    .or(user_sessions::last_seen.lt(idle_before)),
            ),
        )
        .execute(conn)
    }

    /// Sessions of a user (for tests and the CLI's messages).
    pub fn count_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
        user_sessions::table
            .filter(user_sessions::user_id.eq(user_id))
            .count()
            .get_result(conn)
    }
}
