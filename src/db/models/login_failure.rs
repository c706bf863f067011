//! Login failure counters, kept in the database so throttling holds across instances.
//!
//! One row per key: an (address, username) pair, or an address alone (username `""`,
//! which no account can have). A row counts the failures since it was last reset plus
//! the password checks in flight, and when the last counted one happened.

use chrono::NaiveDateTime;
use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Timestamp};

use crate::db::DbConn;
use crate::db::schema::login_failures;

/// Queries on the `login_failures` counters.
pub struct LoginFailures;

/// A counter after one more attempt was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Attempts counted within the cool-off, this one included.
    pub failures: i32,
    /// When the counter last moved (or, once over the limit, when it got there).
    pub last_at: NaiveDateTime,
}

impl LoginFailures {
    /// Counts one more attempt for the key in one atomic statement and returns the
    /// counter. A counter whose last attempt is before `window_start` starts again at 1.
    /// Once at `limit`, further attempts are counted but leave `last_at` alone, so
    /// hammering a locked key does not push its unlock time back.
    pub fn count_attempt(
        conn: &mut DbConn,
        address: &str,
        username: &str,
        limit: i32,
        window_start: NaiveDateTime,
        now: NaiveDateTime,
    ) -> QueryResult<Counted> {
        use login_failures::dsl as f;
        let expired = f::last_at.lt(window_start);
        let q = diesel::insert_into(f::login_failures)
            .values((
                f::address.eq(address),
                f::username.eq(username),
                f::failures.eq(1),
                f::last_at.eq(now),
            ))
            .on_conflict((f::address, f::username))
            .do_update()
            .set((
                f::failures
                    .eq(case_when(expired, 1.into_sql::<Integer>()).otherwise(f::failures + 1)),
                f::last_at.eq(case_when(
                    f::last_at.lt(window_start).or(f::failures.lt(limit)),
                    now.into_sql::<Timestamp>(),
                )
                .otherwise(f::last_at)),
            ))
            .returning((f::failures, f::last_at));
        let (failures, last_at) =
            crate::on_backend!(conn, |c| q.get_result::<(i32, NaiveDateTime)>(c))?;
        Ok(Counted { failures, last_at })
    }

    /// Takes back one counted attempt (a check that succeeded, or never ran).
    pub fn uncount(conn: &mut DbConn, address: &str, username: &str) -> QueryResult<()> {
        use login_failures::dsl as f;
        diesel::update(
            f::login_failures
                .filter(f::address.eq(address))
                .filter(f::username.eq(username))
                .filter(f::failures.gt(0)),
        )
        .set(f::failures.eq(f::failures - 1))
        .execute(conn)?;
        Ok(())
    }

    /// Forgets the key (after a successful login, as django-axes resets on success).
    pub fn reset(conn: &mut DbConn, address: &str, username: &str) -> QueryResult<()> {
        use login_failures::dsl as f;
        diesel::delete(
            f::login_failures
                .filter(f::address.eq(address))
                .filter(f::username.eq(username)),
        )
        .execute(conn)?;
        Ok(())
    }

    /// Deletes counters whose last attempt is before `before`; returns how many.
    pub fn prune(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        use login_failures::dsl as f;
        diesel::delete(f::login_failures.filter(f::last_at.lt(before))).execute(conn)
    }

    /// How many counters there are (for tests and the pruning log line).
    pub fn count_rows(conn: &mut DbConn) -> QueryResult<i64> {
        login_failures::table.count().get_result(conn)
    }
}
