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
//! A project's whole cache (every app) is not deleted row by row at all: [`rotate`]
//! moves the project to a new item key and marks the old one deleted (migration
//! `2026-12-04-100001_deleted_scopes`), a few statements whatever the number of items.
//! [`purge`] deletes the rows under deleted keys later, in batches.
//!
//! [`CacheItem::delete_matching`]: super::CacheItem::delete_matching

use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

use crate::db::scope::live_key_sql;
use crate::db::{DbConn, Scope};

/// Deletes every item of `apps` (none: all apps) in `scope` (none: every scope), and
/// returns how many went. Runs in a transaction of its own (a savepoint inside the
/// caller's).
pub(super) fn delete_groups(
    conn: &mut DbConn,
    apps: Option<&[&str]>,
    scope: Option<Scope>,
) -> QueryResult<usize> {
    if let (None, Some(Scope::Project(id))) = (apps, scope) {
        return rotate(conn, id);
    }
    let groups = Groups { apps, scope };
    // A delete of every scope also takes the rows of deleted project caches still to
    // be purged; they are not items any more, so they are not counted.
    match conn {
        DbConn::Pg(c) => c.transaction(|c| {
            let dead = groups.pg_dead_rows(c)?;
            Ok(groups.pg_delete(c)?.saturating_sub(dead))
        }),
        DbConn::Sqlite(c) => c.transaction(|c| groups.sqlite_delete(c)),
    }
}

/// Which groups: apps and scope, each optional.
struct Groups<'a> {
    apps: Option<&'a [&'a str]>,
    scope: Option<Scope>,
}

impl Groups<'_> {
    /// The conditions on `project_key` and `app_name` of `cache_items` (`items`: the
    /// scope's live key, bound twice) or of `cache_app_stats` (the scope's project id),
    /// SQLite placeholders, plus `extra`.
    fn sqlite_where(&self, items: bool, extra: Option<&str>) -> String {
        let mut conds: Vec<String> = Vec::new();
        if self.scope.is_some() {
            conds.push(if items {
                format!("project_key = {}", live_key_sql("?"))
            } else {
                "project_key = ?".to_owned()
            });
        }
        if self.apps.is_some() {
            conds.push("app_name IN (SELECT value FROM json_each(?))".to_owned());
        }
        conds.extend(extra.map(str::to_owned));
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
        items: bool,
        extra: Option<&str>,
    ) -> BoxedSqlQuery<'static, Sqlite, SqlQuery> {
        let text = sql.replace("{w}", &self.sqlite_where(items, extra));
        let mut q = diesel::sql_query(text).into_boxed::<Sqlite>();
        if let Some(scope) = self.scope {
            if items {
                q = q
                    .bind::<Nullable<BigInt>, _>(scope.project_id())
                    .bind::<Nullable<BigInt>, _>(scope.project_id());
            } else {
                q = q.bind::<BigInt, _>(scope.key());
            }
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
            false,
            Some("project_key <> 0"),
        )
        .execute(c)?;
        let dead = if self.scope.is_some() {
            0
        } else {
            let Number { n } = self
                .sqlite_query(
                    "SELECT COUNT(*) AS n FROM cache_items{w}",
                    true,
                    Some("project_key IN (SELECT project_key FROM cache_dead_keys)"),
                )
                .get_result(c)?;
            usize::try_from(n).unwrap_or(0)
        };
        let n = self
            .sqlite_query("DELETE FROM cache_items{w}", true, None)
            .execute(c)?
            .saturating_sub(dead);
        // Each touched scope loses its groups' counts; newest and oldest again from the
        // (project_key, date_modified) index, over what is left.
        self.sqlite_query(
            &"UPDATE cache_scope_stats SET items = cache_scope_stats.items - d.items, \
                 bytes = cache_scope_stats.bytes - d.bytes, \
                 newest = (SELECT MAX(i.date_modified) FROM cache_items i WHERE i.project_key = {live}), \
                 oldest = (SELECT MIN(i.date_modified) FROM cache_items i WHERE i.project_key = {live}) \
             FROM (SELECT project_key AS k, SUM(items) AS items, SUM(bytes) AS bytes \
                   FROM cache_app_stats{w} GROUP BY project_key) AS d \
             WHERE cache_scope_stats.project_key = d.k"
                .replace("{live}", &live_key_sql("NULLIF(d.k, 0)")),
            false,
            None,
        )
        .execute(c)?;
        diesel::sql_query("DELETE FROM cache_scope_stats WHERE items <= 0").execute(c)?;
        // The groups' rows go whole (their triggers keep cache_app_totals).
        self.sqlite_query("DELETE FROM cache_app_stats{w}", false, None)
            .execute(c)?;
        diesel::sql_query("DELETE FROM cache_stats_bulk").execute(c)?;
        Ok(n)
    }

    /// Rows of deleted project caches the delete takes (none when it has a scope: it
    /// goes by the scope's live key).
    fn pg_dead_rows(&self, c: &mut PgConnection) -> QueryResult<usize> {
        use crate::db::schema::cache_items;
        if self.scope.is_some() {
            return Ok(0);
        }
        let mut q = cache_items::table
            .filter(diesel::dsl::not(crate::db::scope::live_row()))
            .into_boxed();
        if let Some(apps) = self.apps {
            q = q.filter(cache_items::app_name.eq_any(apps));
        }
        let n: i64 = q.count().get_result(c)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn pg_delete(&self, c: &mut PgConnection) -> QueryResult<usize> {
        use crate::db::schema::cache_items;
        let mut q = diesel::delete(cache_items::table).into_boxed();
        if let Some(apps) = self.apps {
            q = q.filter(cache_items::app_name.eq_any(apps));
        }
        if let Some(scope) = self.scope {
            q = q.filter(cache_items::project_key.eq(scope.live_key()));
        }
        q.execute(c)
    }
}

/// One number, for `sql_query` results.
#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Deletes project `id`'s whole cache by moving the project to a new item key: the
/// old key goes to `cache_dead_keys` (its rows are invisible from this commit on, and
/// [`purge`] deletes them later), the project's kept aggregates are dropped and taken
/// off the totals. The new key is below every key in use or waiting to be purged, so
/// it is fresh. Returns how many items went (from the kept aggregates; none: nothing
/// changes).
///
/// On PostgreSQL the transaction first takes `cache_items` in SHARE ROW EXCLUSIVE
/// mode: it waits for the writes in flight (their pending aggregate deltas are then
/// taken here) and holds off new ones until it commits, a few milliseconds, so no write
/// lands under the old key after its aggregates were taken off (every write statement
/// reads the live key itself). Reads go on. The mode conflicts with itself, so two such
/// deletes never pick the same key. A write transaction that runs long (a sync job's
/// batch) makes the delete wait for it, and under the server's statement timeout a
/// delete that waits longer fails whole.
fn rotate(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    let now = crate::db::now();
    super::cache_item::in_a_transaction(conn, |conn| match conn {
        DbConn::Pg(c) => pg_rotate(c, id, now),
        DbConn::Sqlite(c) => sqlite_rotate(c, id, now),
    })
}

/// [`rotate`] on PostgreSQL: the lock, the project's pending deltas, then one
/// statement whose parts see one snapshot, taken after those.
fn pg_rotate(c: &mut PgConnection, id: i64, now: chrono::NaiveDateTime) -> QueryResult<usize> {
    diesel::sql_query("LOCK TABLE cache_items IN SHARE ROW EXCLUSIVE MODE").execute(c)?;
    // The project's pending deltas go (their items were never in the totals); a fold
    // holding some of them is waited for, and the next statement sees what it wrote.
    // Other projects' deltas stay for the next fold.
    let Number { n: pending } = diesel::sql_query(
        "WITH d AS (DELETE FROM cache_stat_deltas WHERE project_key = $1 RETURNING items) \
         SELECT COALESCE(SUM(items), 0)::bigint AS n FROM d",
    )
    .bind::<BigInt, _>(id)
    .get_result(c)?;
    let Number { n } = diesel::sql_query(
        "WITH s AS (SELECT COALESCE(SUM(items), 0)::bigint AS items, \
                           COALESCE(SUM(bytes), 0)::bigint AS bytes, COUNT(*) AS groups \
                    FROM cache_app_stats WHERE project_key = $1), \
         dead AS (INSERT INTO cache_dead_keys (project_key, project_id, deleted_at) \
                  SELECT COALESCE(p.cache_key, p.id), p.id, $2 FROM projects p, s \
                  WHERE p.id = $1 AND (s.groups > 0 OR $3 <> 0) RETURNING project_key), \
         moved AS (UPDATE projects SET cache_key = LEAST(-1, \
                       (SELECT MIN(cache_key) FROM projects) - 1, \
                       (SELECT MIN(project_key) FROM cache_dead_keys) - 1) \
                   WHERE id = $1 AND EXISTS (SELECT 1 FROM dead) RETURNING id), \
         totals AS (UPDATE cache_totals t SET items = t.items - s.items, bytes = t.bytes - s.bytes \
                    FROM s WHERE t.id = 1 AND EXISTS (SELECT 1 FROM dead) RETURNING t.id), \
         scope AS (DELETE FROM cache_scope_stats \
                   WHERE project_key = $1 AND EXISTS (SELECT 1 FROM dead) RETURNING project_key), \
         apps AS (DELETE FROM cache_app_stats \
                  WHERE project_key = $1 AND EXISTS (SELECT 1 FROM dead) RETURNING project_key) \
         SELECT CASE WHEN EXISTS (SELECT 1 FROM dead) THEN s.items ELSE 0 END AS n FROM s",
    )
    .bind::<BigInt, _>(id)
    .bind::<Timestamp, _>(now)
    .bind::<BigInt, _>(pending)
    .get_result(c)?;
    // Not moved (nothing to delete): both are 0.
    Ok(usize::try_from(n + pending).unwrap_or(0))
}

/// [`rotate`] on SQLite: a few statements in one transaction, all in process.
fn sqlite_rotate(
    c: &mut SqliteConnection,
    id: i64,
    now: chrono::NaiveDateTime,
) -> QueryResult<usize> {
    // First statement a write: the transaction takes the write lock at once.
    let marked = diesel::sql_query(
        "INSERT INTO cache_dead_keys (project_key, project_id, deleted_at) \
         SELECT COALESCE(cache_key, id), id, ? FROM projects WHERE id = ? \
         AND EXISTS (SELECT 1 FROM cache_app_stats WHERE project_key = ?)",
    )
    .bind::<Timestamp, _>(now)
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(id)
    .execute(c)?;
    if marked == 0 {
        return Ok(0);
    }
    diesel::sql_query(
        "UPDATE projects SET cache_key = MIN(-1, \
             COALESCE((SELECT MIN(cache_key) FROM projects), 0) - 1, \
             COALESCE((SELECT MIN(project_key) FROM cache_dead_keys), 0) - 1) \
         WHERE id = ?",
    )
    .bind::<BigInt, _>(id)
    .execute(c)?;
    let Number { n: items } = diesel::sql_query(
        "SELECT CAST(COALESCE(SUM(items), 0) AS BIGINT) AS n FROM cache_app_stats \
         WHERE project_key = ?",
    )
    .bind::<BigInt, _>(id)
    .get_result(c)?;
    diesel::sql_query(
        "UPDATE cache_totals SET items = items - ?, \
             bytes = bytes - (SELECT COALESCE(SUM(bytes), 0) FROM cache_app_stats WHERE project_key = ?) \
         WHERE id = 1",
    )
    .bind::<BigInt, _>(items)
    .bind::<BigInt, _>(id)
    .execute(c)?;
    for table in ["cache_scope_stats", "cache_app_stats"] {
        diesel::sql_query(format!("DELETE FROM {table} WHERE project_key = ?"))
            .bind::<BigInt, _>(id)
            .execute(c)?;
    }
    Ok(usize::try_from(items).unwrap_or(0))
}

/// Deletes up to `limit` rows under deleted keys (their data, versions and previews
/// with them; the kept aggregates never counted them), and when that leaves a deleted
/// key without rows, its `cache_dead_keys` row. Returns how many item rows went: 0 when
/// nothing is left to purge. One transaction per call, so a large purge never holds
/// the write lock for long.
pub(super) fn purge(conn: &mut DbConn, limit: usize) -> QueryResult<usize> {
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let pg = matches!(conn, DbConn::Pg(_));
    conn.transaction(|conn| {
        let n = crate::on_backend!(conn, |c| diesel::sql_query(format!(
            "DELETE FROM cache_items WHERE id IN (SELECT id FROM cache_items \
             WHERE project_key IN (SELECT project_key FROM cache_dead_keys) LIMIT {})",
            if pg { "$1" } else { "?" }
        ))
        .bind::<BigInt, _>(limit)
        .execute(c))?;
        if (n as i64) < limit {
            diesel::sql_query(
                "DELETE FROM cache_dead_keys WHERE NOT EXISTS \
                 (SELECT 1 FROM cache_items WHERE cache_items.project_key = cache_dead_keys.project_key)",
            )
            .execute(conn)?;
        }
        Ok(n)
    })
}
