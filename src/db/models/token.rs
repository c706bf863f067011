//! API tokens: a lookup prefix and a SHA-512 digest; the secret is never stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::api_tokens;
use crate::db::{DbConn, now};

/// A stored token.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// First characters of the token, for lookup.
    pub prefix: String,
    /// Hex SHA-512 of the whole token.
    pub digest: String,
    /// Created (UTC).
    pub created: NaiveDateTime,
    /// Expires (UTC), if ever.
    pub expiry: Option<NaiveDateTime>,
}

impl ApiToken {
    /// Whether the token has expired at `at`.
    pub fn expired_at(&self, at: NaiveDateTime) -> bool {
        self.expiry.is_some_and(|e| e <= at)
    }
}

impl ApiToken {
    /// Stores a token's prefix and digest.
    pub fn create(
        conn: &mut DbConn,
        user_id: i64,
        prefix: &str,
        digest: &str,
        expiry: Option<NaiveDateTime>,
    ) -> QueryResult<ApiToken> {
        let q = diesel::insert_into(api_tokens::table).values((
            api_tokens::user_id.eq(user_id),
            api_tokens::prefix.eq(prefix),
            api_tokens::digest.eq(digest),
            api_tokens::created.eq(now()),
            api_tokens::expiry.eq(expiry),
        ));
        crate::on_backend!(conn, |c| q
            .returning(ApiToken::as_returning())
            .get_result(c))
    }

    /// Tokens whose prefix matches, with their users (one query on the hot path).
    pub fn find_by_prefix_with_user(
        conn: &mut DbConn,
        prefix: &str,
    ) -> QueryResult<Vec<(ApiToken, super::User)>> {
        api_tokens::table
            .inner_join(crate::db::schema::users::table)
            .filter(api_tokens::prefix.eq(prefix))
            .select((ApiToken::as_select(), super::User::as_select()))
            .load(conn)
    }

    /// A user's tokens, oldest first.
    pub fn list_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<ApiToken>> {
        api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .order((api_tokens::created, api_tokens::id))
            .select(ApiToken::as_select())
            .load(conn)
    }

    /// Deletes every token with this prefix; how many.
    pub fn delete_by_prefix(conn: &mut DbConn, prefix: &str) -> QueryResult<usize> {
        diesel::delete(api_tokens::table.filter(api_tokens::prefix.eq(prefix))).execute(conn)
    }

    /// Tokens whose prefix matches.
    pub fn find_by_prefix(conn: &mut DbConn, prefix: &str) -> QueryResult<Vec<ApiToken>> {
        api_tokens::table
            .filter(api_tokens::prefix.eq(prefix))
            .select(ApiToken::as_select())
            .load(conn)
    }
}
