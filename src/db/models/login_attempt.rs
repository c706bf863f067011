//! Failed login attempts, kept in the database so throttling holds across instances.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::login_attempts;
use crate::db::{DbConn, now};

/// Failed logins per username and address.
pub struct LoginAttempt;

impl LoginAttempt {
    /// Failures for `username` from `ip` since `since`.
    pub fn count_since(
        conn: &mut DbConn,
        username: &str,
        ip: &str,
        since: NaiveDateTime,
    ) -> QueryResult<i64> {
        login_attempts::table
            .filter(login_attempts::username.eq(username))
            .filter(login_attempts::ip.eq(ip))
            .filter(login_attempts::attempted_at.ge(since))
            .count()
            .get_result(conn)
    }

    /// Times of the newest `limit` failures for `username` from `ip` since `since`,
    /// newest first.
    pub fn recent(
        conn: &mut DbConn,
        username: &str,
        ip: &str,
        since: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<NaiveDateTime>> {
        login_attempts::table
            .filter(login_attempts::username.eq(username))
            .filter(login_attempts::ip.eq(ip))
            .filter(login_attempts::attempted_at.ge(since))
            .order(login_attempts::attempted_at.desc())
            .select(login_attempts::attempted_at)
            .limit(limit)
            .load(conn)
    }

    /// Records a failure.
    pub fn record_failure(conn: &mut DbConn, username: &str, ip: &str) -> QueryResult<()> {
        diesel::insert_into(login_attempts::table)
            .values((
                login_attempts::username.eq(username),
                login_attempts::ip.eq(ip),
                login_attempts::attempted_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Forgets failures for `username` from `ip` (after a successful login) and any
    /// older than `before`.
    pub fn clear(
        conn: &mut DbConn,
        username: &str,
        ip: &str,
        before: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::delete(
            login_attempts::table
                .filter(login_attempts::username.eq(username))
                .filter(login_attempts::ip.eq(ip)),
        )
        .execute(conn)?;
        diesel::delete(login_attempts::table.filter(login_attempts::attempted_at.lt(before)))
            .execute(conn)?;
        Ok(())
    }
}
