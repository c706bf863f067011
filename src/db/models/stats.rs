//! Site-wide aggregates for `/metrics` (and the dashboards): one grouped query each.

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::DbConn;
use crate::db::schema::{cache_items, sync_jobs};

/// Items and bytes of one app, over every project and the site-wide items.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct AppTotals {
    /// App name.
    pub app_name: String,
    /// Items.
    pub items: i64,
    /// Sum of the items' `size_bytes`.
    pub bytes: i64,
}

/// [`AppTotals`] per app, by name.
pub fn totals_by_app(conn: &mut DbConn) -> QueryResult<Vec<AppTotals>> {
    // SUM(bigint) is numeric on PostgreSQL: cast it back so both backends agree.
    cache_items::table
        .filter(crate::db::scope::live_row())
        .group_by(cache_items::app_name)
        .select((
            cache_items::app_name,
            count_star(),
            sql::<BigInt>("CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT)"),
        ))
        .order(cache_items::app_name)
        .load(conn)
}

/// Sync jobs per status (`queued`, `running`, `done`, `failed`), statuses without
/// jobs left out.
pub fn jobs_by_status(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    sync_jobs::table
        .group_by(sync_jobs::status)
        .select((sync_jobs::status, count_star()))
        .order(sync_jobs::status)
        .load(conn)
}
