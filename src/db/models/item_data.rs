//! Item data apart from the item row (migration `2026-12-01-991001_item_data_apart`).
//!
//! `cache_item_data` holds every JSON document: `cache_items.data_id` points at an
//! item's current data, `cache_item_versions.data_id` at each kept version's, and each
//! data row has exactly one owner. A write that changes an item inserts a new data row
//! and moves the item's pointer; the database's triggers then keep the old pointer in a
//! version row (history on) or delete the old data row (history off), and delete the
//! data of every item or version that is deleted. Keeping a version never reads or
//! copies its data, and reading an item's metadata never touches its data.
//!
//! Reads select the data through [`ItemData`] and [`VersionData`], correlated
//! subqueries that fit any statement over `cache_items` / `cache_item_versions` (joins
//! of the item included) without naming the data table in its `FROM` clause.

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::schema::cache_item_data;
use crate::db::types::SqlJson;
use crate::db::{DbConn, JsonText};

/// A constant SQL expression of type `$st` with a static query id (so statements
/// selecting it are cached like any other).
macro_rules! data_fragment {
    ($(#[$meta:meta])* $name:ident = $text:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, diesel::query_builder::QueryId)]
        pub struct $name;

        impl diesel::Expression for $name {
            type SqlType = SqlJson;
        }

        impl<QS> diesel::AppearsOnTable<QS> for $name {}

        impl<QS> diesel::SelectableExpression<QS> for $name {}

        impl diesel::expression::ValidGrouping<()> for $name {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }

        impl<DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for $name {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
            ) -> QueryResult<()> {
                out.push_sql($text);
                Ok(())
            }
        }
    };
}

data_fragment! {
    /// The data of the `cache_items` row in the statement.
    ItemData = "(SELECT cache_item_data.data FROM cache_item_data \
                 WHERE cache_item_data.id = cache_items.data_id)"
}

data_fragment! {
    /// The data of the `cache_item_versions` row in the statement.
    VersionData = "(SELECT cache_item_data.data FROM cache_item_data \
                    WHERE cache_item_data.id = cache_item_versions.data_id)"
}

/// The SQL text of [`ItemData`], for statements written as SQL.
pub(super) const ITEM_DATA_SQL: &str = "(SELECT cache_item_data.data FROM cache_item_data \
     WHERE cache_item_data.id = cache_items.data_id)";

/// One row id, as `sql_query` returns it.
#[derive(QueryableByName)]
pub(super) struct IdRow {
    #[diesel(sql_type = BigInt)]
    pub(super) id: i64,
}

/// Stores one document; returns its row id. Large data on PostgreSQL goes by `COPY`
/// (see [`super::large_write`]); data of [`super::UNCHECKED_JSON_BYTES`] or more is
/// stored without SQLite's `json_valid` check ([`JsonText`] is valid by construction).
pub(super) fn insert_one(conn: &mut DbConn, data: &JsonText) -> QueryResult<i64> {
    let large = data.len() >= super::UNCHECKED_JSON_BYTES;
    match conn {
        DbConn::Pg(c) if data.len() >= super::STAGED_WRITE_BYTES => {
            super::large_write::copy_data(c, data)
        }
        _ => crate::on_backend!(conn, |c| {
            crate::db::without_sqlite_checks(c, large, |c| {
                diesel::insert_into(cache_item_data::table)
                    .values(cache_item_data::data.eq(data))
                    .returning(cache_item_data::id)
                    .get_result(c)
            })
        }),
    }
}

/// Stores many documents in one statement; returns their row ids, in order.
///
/// The ids are taken first, so the order of the rows a multi-row `INSERT` returns
/// (which neither backend promises) does not matter: on PostgreSQL from the table's
/// sequence, on SQLite after the largest id, which is safe because the transaction
/// already holds SQLite's write lock (its first statement is a write).
pub(super) fn insert_many(conn: &mut DbConn, docs: &[&JsonText]) -> QueryResult<Vec<i64>> {
    if docs.is_empty() {
        return Ok(Vec::new());
    }
    let n = i64::try_from(docs.len()).unwrap_or(i64::MAX);
    let ids: Vec<i64> = match &mut *conn {
        DbConn::Pg(c) => diesel::sql_query(
            "SELECT nextval('cache_item_data_id_seq') AS id FROM generate_series(1, $1)",
        )
        .bind::<BigInt, _>(n)
        .load::<IdRow>(c)?
        .into_iter()
        .map(|r| r.id)
        .collect(),
        DbConn::Sqlite(c) => {
            let max: Option<i64> = cache_item_data::table
                .select(diesel::dsl::max(cache_item_data::id))
                .first(c)?;
            let first = max.unwrap_or(0) + 1;
            (first..first + n).collect()
        }
    };
    let large = docs.iter().any(|d| d.len() >= super::UNCHECKED_JSON_BYTES);
    let rows: Vec<_> = ids
        .iter()
        .zip(docs)
        .map(|(id, data)| (cache_item_data::id.eq(*id), cache_item_data::data.eq(*data)))
        .collect();
    crate::on_backend!(conn, |c| {
        crate::db::without_sqlite_checks(c, large, |c| {
            diesel::insert_into(cache_item_data::table)
                .values(rows)
                .execute(c)
        })
    })?;
    Ok(ids)
}
