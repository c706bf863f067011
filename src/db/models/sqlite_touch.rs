//! The first statement of a SQLite item write (`CacheItem::touch_unchanged`) as a
//! statement Diesel keeps prepared (issue 11).
//!
//! Diesel never caches an `UPDATE` built with its DSL (a changeset may skip `None`
//! values, so it marks every update uncacheable), and on SQLite preparing this one
//! compiles the bodies of every trigger on `cache_items` into it: callgrind counted
//! about 330,000 instructions per REST set in `sqlite3_prepare_v3` for it and the
//! event insert, more than running them. This query type has a static query id, so the
//! statement is prepared once per connection.

use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp, Untyped};
use diesel::sqlite::Sqlite;

use super::{NewCacheItem, WrittenItem};
use crate::db::Scope;
use crate::db::search::fold;

/// `UPDATE` of the item at `item`'s key whose stored data has `item`'s SHA-256: its
/// time, writer (unless none is given) and search keys; returns the row, or nothing.
struct TouchUnchanged<'a> {
    item: &'a NewCacheItem<'a>,
    key: i64,
    name_fold: String,
    app_fold: String,
}

impl QueryId for TouchUnchanged<'_> {
    type QueryId = TouchUnchanged<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for TouchUnchanged<'_> {
    type SqlType = Untyped;
}

impl RunQueryDsl<diesel::SqliteConnection> for TouchUnchanged<'_> {}

impl QueryFragment<Sqlite> for TouchUnchanged<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        let item = self.item;
        out.push_sql("UPDATE cache_items SET date_modified = ");
        out.push_bind_param::<Timestamp, _>(&item.date_modified)?;
        out.push_sql(", user_id = COALESCE(");
        out.push_bind_param::<Nullable<BigInt>, _>(&item.user_id)?;
        out.push_sql(", user_id), name_fold = ");
        out.push_bind_param::<Text, _>(&self.name_fold)?;
        out.push_sql(", app_fold = ");
        out.push_bind_param::<Text, _>(&self.app_fold)?;
        out.push_sql(" WHERE project_key = ");
        out.push_bind_param::<BigInt, _>(&self.key)?;
        out.push_sql(" AND app_name = ");
        out.push_bind_param::<Text, _>(item.app_name)?;
        out.push_sql(" AND name = ");
        out.push_bind_param::<Text, _>(item.name)?;
        out.push_sql(" AND data_sha256 = ");
        out.push_bind_param::<Text, _>(&item.data_sha256)?;
        out.push_sql(
            " RETURNING id, uuid, project_id, app_name, name, size_bytes, date_modified, \
             user_id, data_sha256, version, origin, job_id",
        );
        Ok(())
    }
}

/// Runs the update for `item`; the row it changed, if any.
pub(super) fn touch_unchanged(
    c: &mut diesel::SqliteConnection,
    item: &NewCacheItem<'_>,
) -> QueryResult<Option<WrittenItem>> {
    TouchUnchanged {
        item,
        key: Scope::from_project_id(item.project_id).key(),
        name_fold: fold(item.name),
        app_fold: fold(item.app_name),
    }
    .get_result(c)
    .optional()
}
