//! The first statement of a SQLite item write (`CacheItem::touch_unchanged`) as a
//! statement Diesel keeps prepared (issue 11).
//!
//! Diesel never caches an `UPDATE` built with its DSL (a changeset may skip `None`
//! values, so it marks every update uncacheable), and on SQLite preparing this one
//! compiles the bodies of every trigger on `cache_items` into it: callgrind counted
//! about 330,000 instructions per REST set in `sqlite3_prepare_v3` for it and the
//! event insert, more than running them. This query type has a static query id, so the
//! statement is prepared once per connection.
//!
//! The writer is set by a second statement, and only when it changes: an `UPDATE`
//! that SETs `user_id`, even to the value it has, rewrites the row's entry in
//! `cache_items_user`, one more page per commit for the steady-state REST set, whose
//! writer stays the same.

use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text, Timestamp, Untyped};
use diesel::sqlite::Sqlite;

use super::{NewCacheItem, WrittenItem};
use crate::db::Scope;
use crate::db::scope::LiveKey;
use crate::db::search::fold;

/// `UPDATE` of the item at `item`'s key whose stored data has `item`'s SHA-256: its
/// time and search keys; returns the row, or nothing.
struct TouchUnchanged<'a> {
    item: &'a NewCacheItem<'a>,
    key: LiveKey,
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
        out.push_sql(", name_fold = ");
        out.push_bind_param::<Text, _>(&self.name_fold)?;
        out.push_sql(", app_fold = ");
        out.push_bind_param::<Text, _>(&self.app_fold)?;
        out.push_sql(" WHERE project_key = ");
        self.key.walk_ast(out.reborrow())?;
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

/// `UPDATE cache_items SET user_id = ? WHERE id = ?`, prepared once per connection.
struct SetWriter {
    id: i64,
    user_id: i64,
}

impl QueryId for SetWriter {
    type QueryId = SetWriter;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Sqlite> for SetWriter {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql("UPDATE cache_items SET user_id = ");
        out.push_bind_param::<BigInt, _>(&self.user_id)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        Ok(())
    }
}

impl RunQueryDsl<diesel::SqliteConnection> for SetWriter {}

/// Runs the update for `item`, then sets the writer when one is given and it is not
/// the stored one; the row as changed, if any.
pub(super) fn touch_unchanged(
    c: &mut diesel::SqliteConnection,
    item: &NewCacheItem<'_>,
) -> QueryResult<Option<WrittenItem>> {
    let touched: Option<WrittenItem> = TouchUnchanged {
        item,
        key: Scope::from_project_id(item.project_id).live_key(),
        name_fold: fold(item.name),
        app_fold: fold(item.app_name),
    }
    .get_result(c)
    .optional()?;
    let Some(mut row) = touched else {
        return Ok(None);
    };
    if let Some(user_id) = item.user_id
        && row.user_id != Some(user_id)
    {
        SetWriter {
            id: row.id,
            user_id,
        }
        .execute(c)?;
        row.user_id = Some(user_id);
    }
    Ok(Some(row))
}
