//! Users of the site.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::users;
use crate::db::{DbConn, DbUuid, now};

/// A user account.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Public identifier.
    pub uuid: DbUuid,
    /// Unique login name.
    pub username: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Superusers may do everything.
    pub is_superuser: bool,
    /// Inactive users cannot log in or use tokens.
    pub is_active: bool,
    /// When the account was created (UTC).
    pub date_joined: NaiveDateTime,
}

impl User {
    /// Creates a user with an already hashed password.
    pub fn create(
        conn: &mut DbConn,
        username: &str,
        password_hash: &str,
        is_superuser: bool,
    ) -> QueryResult<User> {
        let q = diesel::insert_into(users::table).values((
            users::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
            users::username.eq(username),
            users::password_hash.eq(password_hash),
            users::is_superuser.eq(is_superuser),
            users::is_active.eq(true),
            users::date_joined.eq(now()),
        ));
        crate::on_backend!(conn, |c| q.returning(User::as_returning()).get_result(c))
    }

    /// Replaces the password hash (the caller also ends the user's sessions).
    pub fn set_password_hash(conn: &mut DbConn, id: i64, password_hash: &str) -> QueryResult<()> {
        diesel::update(users::table.find(id))
            .set(users::password_hash.eq(password_hash))
            .execute(conn)?;
        Ok(())
    }

    /// The user with this username, if any.
    pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(users::username.eq(username))
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    /// The user with this id, if any.
    pub fn find_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<User>> {
        users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    /// The user with this UUID, if any.
    pub fn find_by_uuid(conn: &mut DbConn, uuid: uuid::Uuid) -> QueryResult<Option<User>> {
        users::table
            .filter(users::uuid.eq(DbUuid(uuid)))
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    /// Usernames by id, for showing who wrote what.
    pub fn usernames(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
        users::table
            .filter(users::id.eq_any(ids))
            .select((users::id, users::username))
            .load(conn)
    }

    /// UUIDs by id, for showing writers over the API.
    pub fn uuids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, DbUuid)>> {
        users::table
            .filter(users::id.eq_any(ids))
            .select((users::id, users::uuid))
            .load(conn)
    }

    /// Every user, by username.
    pub fn list(conn: &mut DbConn) -> QueryResult<Vec<User>> {
        users::table
            .order(users::username)
            .select(User::as_select())
            .load(conn)
    }

    /// Deletes the user; their cache items keep existing with no user.
    pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
        diesel::delete(users::table.find(id)).execute(conn)
    }

    /// Whether any user exists (a fresh database has none).
    pub fn any(conn: &mut DbConn) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(users::table.select(users::id))).get_result(conn)
    }
}
