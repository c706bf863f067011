//! Deleting whole groups of items at once: every item of some scopes and apps (a
//! project's, an app's, the whole cache), for [`CacheItem::delete_matching`].
//!
//! Such a delete always takes whole `(scope, app)` groups, so what it removes from the
//! kept aggregates (see [`super::kept_stats`]) is exactly the groups' own kept rows. On
//! SQLite, which has only per-row triggers, the per-row aggregate trigger stands aside
//! while a row of `cache_stats_bulk` exists (migration `200001_bulk_delete`), and the
//! aggregates are adjusted here once per group, in the same transaction; the marker row
//! is inserted first and deleted last, so no other connection ever sees it. On
//! PostgreSQL the triggers are per statement already: the delete is one statement.
//!
//! [`CacheItem::delete_matching`]: super::CacheItem::delete_matching

use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;

use crate::db::{DbConn, Scope};

/// Deletes every item of `apps` (none: all apps) in `scope` (none: every scope), and
/// returns how many went. Runs in a transaction of its own (a savepoint inside the
/// caller's).
pub(super) fn delete_groups(
    conn: &mut DbConn,
    apps: Option<&[&str]>,
    scope: Option<Scope>,
) -> QueryResult<usize> {
    let groups = Groups { apps, scope };
    match conn {
        DbConn::Pg(c) => groups.pg_delete(c),
        DbConn::Sqlite(c) => c.transaction(|c| groups.sqlite_delete(c)),
    }
}

/// Which groups: apps and scope, each optional.
struct Groups<'a> {
    apps: Option<&'a [&'a str]>,
    scope: Option<Scope>,
}

impl Groups<'_> {
    /// The conditions on `project_key` and `app_name` (columns of `cache_items` and of
    /// `cache_app_stats` alike), SQLite placeholders, plus `extra`.
    fn sqlite_where(&self, extra: Option<&str>) -> String {
        let mut conds: Vec<&str> = Vec::new();
        if self.scope.is_some() {
            conds.push("project_key = ?");
        }
        if self.apps.is_some() {
            conds.push("app_name IN (SELECT value FROM json_each(?))");
        }
        conds.extend(extra);
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        }
    }

    /// `sql` with `{w}` replaced by the conditions, their values bound.
    fn sqlite_query(
        &self,
        sql: &str,
        extra: Option<&str>,
    ) -> BoxedSqlQuery<'static, Sqlite, SqlQuery> {
        let text = sql.replace("{w}", &self.sqlite_where(extra));
        let mut q = diesel::sql_query(text).into_boxed::<Sqlite>();
        if let Some(scope) = self.scope {
            q = q.bind::<BigInt, _>(scope.key());
        }
        if let Some(apps) = self.apps {
            q = q.bind::<Text, _>(serde_json::to_string(apps).unwrap_or_else(|_| "[]".into()));
        }
        q
    }

    fn sqlite_delete(&self, c: &mut SqliteConnection) -> QueryResult<usize> {
        // First statement a write: the transaction takes the write lock at once.
        diesel::sql_query("INSERT INTO cache_stats_bulk (id) VALUES (1)").execute(c)?;
        // Totals: the groups' items and bytes in projects (key 0 is the site-wide items).
        self.sqlite_query(
            "UPDATE cache_totals SET items = cache_totals.items - d.items, bytes = cache_totals.bytes - d.bytes \
             FROM (SELECT COALESCE(SUM(items), 0) AS items, COALESCE(SUM(bytes), 0) AS bytes \
                   FROM cache_app_stats{w}) AS d",
            Some("project_key <> 0"),
        )
        .execute(c)?;
        let n = self
            .sqlite_query("DELETE FROM cache_items{w}", None)
            .execute(c)?;
        // Each touched scope loses its groups' counts; newest and oldest again from the
        // (project_key, date_modified) index, over what is left.
        self.sqlite_query(
            "UPDATE cache_scope_stats SET items = cache_scope_stats.items - d.items, \
                 bytes = cache_scope_stats.bytes - d.bytes, \
                 newest = (SELECT MAX(i.date_modified) FROM cache_items i WHERE i.project_key = d.k), \
                 oldest = (SELECT MIN(i.date_modified) FROM cache_items i WHERE i.project_key = d.k) \
             FROM (SELECT project_key AS k, SUM(items) AS items, SUM(bytes) AS bytes \
                   FROM cache_app_stats{w} GROUP BY project_key) AS d \
             WHERE cache_scope_stats.project_key = d.k",
            None,
        )
        .execute(c)?;
        diesel::sql_query("DELETE FROM cache_scope_stats WHERE items <= 0").execute(c)?;
        // The groups' rows go whole (their triggers keep cache_app_totals).
        self.sqlite_query("DELETE FROM cache_app_stats{w}", None)
            .execute(c)?;
        diesel::sql_query("DELETE FROM cache_stats_bulk").execute(c)?;
        Ok(n)
    }

    fn pg_delete(&self, c: &mut PgConnection) -> QueryResult<usize> {
        use crate::db::schema::cache_items;
        let mut q = diesel::delete(cache_items::table).into_boxed();
        if let Some(apps) = self.apps {
            q = q.filter(cache_items::app_name.eq_any(apps));
        }
        if let Some(scope) = self.scope {
            q = q.filter(cache_items::project_key.eq(scope.key()));
        }
        q.execute(c)
    }
}
