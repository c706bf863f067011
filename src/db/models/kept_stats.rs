//! Kept aggregates of the items (migration `950001_kept_item_stats`): per scope and app
//! (`cache_app_stats`), per scope (`cache_scope_stats`: items, bytes, newest and oldest
//! update) and over all projects (`cache_totals`, with the number of projects). The
//! database keeps them with every write, inside the write's transaction, so pages read
//! them instead of counting items.
//!
//! On SQLite the triggers update the rows directly. On PostgreSQL they append deltas
//! (`cache_stat_deltas`), because a counter row updated by every write stays locked until
//! the write commits and would make concurrent writers to one project queue on it;
//! [`fold`] moves pending deltas into the rows and must run before reading them (every
//! reader here calls it; it is one cheap statement when nothing is pending).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};

use super::ScopeTotals;
use crate::db::schema::{cache_app_stats, cache_app_totals, cache_scope_stats, cache_totals};
use crate::db::{DbConn, Scope};

/// The kept totals: projects (type PROJECT), and the items and bytes in projects
/// (site-wide items are not in them; items a library caller put in a category are).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Queryable)]
pub struct KeptTotals {
    /// Projects.
    pub projects: i64,
    /// Items in projects.
    pub items: i64,
    /// Their bytes.
    pub bytes: i64,
}

#[derive(QueryableByName)]
struct Delta {
    #[diesel(sql_type = BigInt)]
    project_key: i64,
    #[diesel(sql_type = BigInt)]
    items: i64,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
    /// Deltas taken by this fold (the same on every row).
    #[diesel(sql_type = BigInt)]
    rows: i64,
}

/// Folds the pending deltas into the kept rows (PostgreSQL; nothing to do on SQLite).
/// One transaction: the deltas are deleted and added in the same commit, so each is
/// counted exactly once also when several readers fold at once (the later one waits
/// for the earlier one's rows, then finds them gone). The commit does not wait for the
/// WAL flush (`synchronous_commit = off`): it only moves counts between two tables, a
/// crash loses such a fold whole (deltas and rows together) and the next one redoes it,
/// and the fold's row locks are released at once.
pub fn fold(conn: &mut DbConn) -> QueryResult<()> {
    fold_some(conn, None).map(|_| ())
}

/// Deltas the server's worker folds per tick ([`fold_batch`]).
pub const FOLD_BATCH: i64 = 5_000;

/// Folds up to `limit` pending deltas (PostgreSQL; nothing to do on SQLite), for the
/// server's worker, which calls it on every tick so deltas do not pile up between
/// reads and readers' [`fold`] finds little or nothing to do. Safe with several
/// instances and with readers folding at once: the batch takes its rows with `FOR
/// UPDATE SKIP LOCKED`, so no delta is taken twice and no one waits on another's batch.
/// Returns how many deltas it folded.
pub fn fold_batch(conn: &mut DbConn, limit: i64) -> QueryResult<usize> {
    fold_some(conn, Some(limit))
}

fn fold_some(conn: &mut DbConn, limit: Option<i64>) -> QueryResult<usize> {
    let DbConn::Pg(pg) = conn else {
        return Ok(0);
    };
    use diesel::Connection;
    // The usual case, nothing pending: one read, no transaction.
    let pending: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "EXISTS (SELECT 1 FROM cache_stat_deltas)",
    ))
    .get_result(pg)?;
    if !pending {
        return Ok(0);
    }
    let taken = match limit {
        None => String::new(),
        Some(n) => format!(
            " WHERE ctid = ANY(ARRAY(SELECT ctid FROM cache_stat_deltas LIMIT {} FOR UPDATE SKIP LOCKED))",
            n.max(1)
        ),
    };
    pg.transaction(|c| {
        diesel::sql_query("SET LOCAL synchronous_commit = off").execute(c)?;
        // Per scope, the sum of its apps' deltas; the apps' rows are added to here.
        let deltas: Vec<Delta> = diesel::sql_query(format!(
            "WITH d AS (DELETE FROM cache_stat_deltas{taken} RETURNING project_key, app_name, items, bytes), \
             a AS (SELECT project_key, app_name, SUM(items)::bigint AS items, SUM(bytes)::bigint AS bytes \
                   FROM d GROUP BY project_key, app_name), \
             up AS (INSERT INTO cache_app_stats AS s (project_key, app_name, items, bytes) \
                    SELECT project_key, app_name, items, bytes FROM a \
                    ON CONFLICT (project_key, app_name) DO UPDATE \
                    SET items = s.items + excluded.items, bytes = s.bytes + excluded.bytes) \
             SELECT project_key, SUM(items)::bigint AS items, SUM(bytes)::bigint AS bytes, \
                    (SELECT COUNT(*) FROM d)::bigint AS rows \
             FROM a GROUP BY project_key",
        ))
        .load(c)?;
        if deltas.is_empty() {
            return Ok(0);
        }
        let folded = usize::try_from(deltas[0].rows).unwrap_or(0);
        let keys: Vec<i64> = deltas.iter().map(|d| d.project_key).collect();
        diesel::sql_query(
            "DELETE FROM cache_app_stats WHERE project_key = ANY($1) AND items <= 0",
        )
        .bind::<Array<BigInt>, _>(&keys)
        .execute(c)?;
        // Each touched scope again from its apps' rows, newest and oldest from the
        // (project_key, date_modified) index.
        diesel::sql_query(
            "INSERT INTO cache_scope_stats AS s (project_key, items, bytes, newest, oldest) \
             SELECT k, a.items, a.bytes, \
                    (SELECT MAX(date_modified) FROM cache_items WHERE project_key = {live}), \
                    (SELECT MIN(date_modified) FROM cache_items WHERE project_key = {live}) \
             FROM unnest($1::bigint[]) AS k, \
             LATERAL (SELECT COALESCE(SUM(items), 0)::bigint AS items, COALESCE(SUM(bytes), 0)::bigint AS bytes \
                      FROM cache_app_stats WHERE project_key = k) a \
             ON CONFLICT (project_key) DO UPDATE SET items = excluded.items, bytes = excluded.bytes, \
                 newest = excluded.newest, oldest = excluded.oldest"
                .replace("{live}", &crate::db::scope::live_key_sql("NULLIF(k, 0)")),
        )
        .bind::<Array<BigInt>, _>(&keys)
        .execute(c)?;
        diesel::sql_query(
            "DELETE FROM cache_scope_stats WHERE project_key = ANY($1) AND items <= 0",
        )
        .bind::<Array<BigInt>, _>(&keys)
        .execute(c)?;
        let (items, bytes) = deltas
            .iter()
            .filter(|d| d.project_key != 0)
            .fold((0, 0), |(i, b), d| (i + d.items, b + d.bytes));
        if items != 0 || bytes != 0 {
            diesel::sql_query(
                "UPDATE cache_totals SET items = items + $1, bytes = bytes + $2 WHERE id = 1",
            )
            .bind::<BigInt, _>(items)
            .bind::<BigInt, _>(bytes)
            .execute(c)?;
        }
        Ok(folded)
    })
}

/// The kept totals (after [`fold`]).
pub fn totals(conn: &mut DbConn) -> QueryResult<KeptTotals> {
    fold(conn)?;
    cache_totals::table
        .select((
            cache_totals::projects,
            cache_totals::items,
            cache_totals::bytes,
        ))
        .first(conn)
}

/// Items, bytes, newest and oldest update of the given scopes that have items (after
/// [`fold`]), in no particular order.
pub fn for_scopes(conn: &mut DbConn, scopes: &[Scope]) -> QueryResult<Vec<ScopeTotals>> {
    fold(conn)?;
    let keys: Vec<i64> = scopes.iter().map(|s| s.key()).collect();
    type Row = (i64, i64, i64, Option<NaiveDateTime>, Option<NaiveDateTime>);
    let rows: Vec<Row> = cache_scope_stats::table
        .filter(cache_scope_stats::project_key.eq_any(keys))
        .select((
            cache_scope_stats::project_key,
            cache_scope_stats::items,
            cache_scope_stats::bytes,
            cache_scope_stats::oldest,
            cache_scope_stats::newest,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(key, items, bytes, oldest, newest)| ScopeTotals {
            scope: Scope::from_key(key),
            items,
            bytes,
            oldest,
            newest,
        })
        .collect())
}

/// Items per app of one scope, or of every scope together (none), by app name (after
/// [`fold`]).
pub fn app_counts(conn: &mut DbConn, scope: Option<Scope>) -> QueryResult<Vec<(String, i64)>> {
    fold(conn)?;
    match scope {
        Some(scope) => cache_app_stats::table
            .filter(cache_app_stats::project_key.eq(scope.key()))
            .select((cache_app_stats::app_name, cache_app_stats::items))
            .order(cache_app_stats::app_name)
            .load(conn),
        None => cache_app_stats::table
            .group_by(cache_app_stats::app_name)
            .select((
                cache_app_stats::app_name,
                diesel::dsl::sql::<BigInt>("CAST(SUM(cache_app_stats.items) AS BIGINT)"),
            ))
            .order(cache_app_stats::app_name)
            .load(conn),
    }
}

/// The apps with items in each of the given scopes, by scope key and app name (after
/// [`fold`]).
pub fn apps_for(conn: &mut DbConn, scopes: &[Scope]) -> QueryResult<Vec<(Scope, String)>> {
    fold(conn)?;
    let keys: Vec<i64> = scopes.iter().map(|s| s.key()).collect();
    let rows: Vec<(i64, String)> = cache_app_stats::table
        .filter(cache_app_stats::project_key.eq_any(keys))
        .select((cache_app_stats::project_key, cache_app_stats::app_name))
        .order((cache_app_stats::project_key, cache_app_stats::app_name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(key, app)| (Scope::from_key(key), app))
        .collect())
}

/// What a recount of the items gives, for tests that compare it with the kept rows:
/// per app and scope, per scope, and the totals.
#[doc(hidden)]
pub fn recount(conn: &mut DbConn) -> QueryResult<Recount> {
    use crate::db::schema::{cache_items, projects};
    use diesel::dsl::{count_star, max, min, sql};
    // Live rows only (not those of a deleted project cache still to be purged), by
    // project id as the kept rows are.
    let live = crate::db::scope::live_row;
    let key = |p: Option<i64>| p.unwrap_or(0);
    let apps: Vec<(Option<i64>, String, i64, i64)> = cache_items::table
        .filter(live())
        .group_by((cache_items::project_id, cache_items::app_name))
        .select((
            cache_items::project_id,
            cache_items::app_name,
            count_star(),
            sql::<BigInt>("CAST(SUM(size_bytes) AS BIGINT)"),
        ))
        .load(conn)?;
    let mut apps: Vec<(i64, String, i64, i64)> = apps
        .into_iter()
        .map(|(p, a, n, b)| (key(p), a, n, b))
        .collect();
    apps.sort();
    type Scoped = (
        Option<i64>,
        i64,
        i64,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    );
    let scopes: Vec<Scoped> = cache_items::table
        .filter(live())
        .group_by(cache_items::project_id)
        .select((
            cache_items::project_id,
            count_star(),
            sql::<BigInt>("CAST(SUM(size_bytes) AS BIGINT)"),
            max(cache_items::date_modified),
            min(cache_items::date_modified),
        ))
        .load(conn)?;
    let mut scopes: Vec<ScopeRow> = scopes
        .into_iter()
        .map(|(p, n, b, newest, oldest)| (key(p), n, b, newest, oldest))
        .collect();
    scopes.sort();
    let projects: i64 = projects::table
        .filter(projects::project_type.eq(super::ProjectType::Project))
        .count()
        .get_result(conn)?;
    let (items, bytes) = scopes
        .iter()
        .filter(|s| s.0 != 0)
        .fold((0, 0), |(i, b), s| (i + s.1, b + s.2));
    let app_totals: Vec<(String, i64, i64)> = cache_items::table
        .filter(live())
        .filter(cache_items::project_id.is_not_null())
        .group_by(cache_items::app_name)
        .select((
            cache_items::app_name,
            count_star(),
            sql::<BigInt>("CAST(SUM(size_bytes) AS BIGINT)"),
        ))
        .order(cache_items::app_name)
        .load(conn)?;
    let titles: Vec<(i64, Option<String>)> = cache_items::table
        .inner_join(projects::table)
        .filter(live())
        .select((projects::id, projects::title_sort.nullable()))
        .distinct()
        .order(projects::id)
        .load(conn)?;
    Ok(Recount {
        apps,
        app_totals,
        titles,
        scopes,
        totals: KeptTotals {
            projects,
            items,
            bytes,
        },
    })
}

/// The kept rows in the shape of [`recount`], after [`fold`].
#[doc(hidden)]
pub fn kept(conn: &mut DbConn) -> QueryResult<Recount> {
    let totals = totals(conn)?;
    let apps = cache_app_stats::table
        .select((
            cache_app_stats::project_key,
            cache_app_stats::app_name,
            cache_app_stats::items,
            cache_app_stats::bytes,
        ))
        .order((cache_app_stats::project_key, cache_app_stats::app_name))
        .load(conn)?;
    let scopes = cache_scope_stats::table
        .select((
            cache_scope_stats::project_key,
            cache_scope_stats::items,
            cache_scope_stats::bytes,
            cache_scope_stats::newest,
            cache_scope_stats::oldest,
        ))
        .order(cache_scope_stats::project_key)
        .load(conn)?;
    let app_totals = cache_app_totals::table
        .filter(
            cache_app_totals::items
                .ne(0)
                .or(cache_app_totals::bytes.ne(0)),
        )
        .select((
            cache_app_totals::app_name,
            cache_app_totals::items,
            cache_app_totals::bytes,
        ))
        .order(cache_app_totals::app_name)
        .load(conn)?;
    let titles = cache_scope_stats::table
        .filter(cache_scope_stats::project_key.ne(0))
        .select((
            cache_scope_stats::project_key,
            cache_scope_stats::title_sort,
        ))
        .order(cache_scope_stats::project_key)
        .load(conn)?;
    Ok(Recount {
        apps,
        app_totals,
        titles,
        scopes,
        totals,
    })
}

/// `(scope key, items, bytes, newest, oldest)` of one scope.
#[doc(hidden)]
pub type ScopeRow = (i64, i64, i64, Option<NaiveDateTime>, Option<NaiveDateTime>);

/// Aggregates of the items, kept or recounted (see [`recount`]).
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recount {
    /// `(scope key, app, items, bytes)`.
    pub apps: Vec<(i64, String, i64, i64)>,
    /// `(app, items, bytes)` over every project (not the site-wide items).
    pub app_totals: Vec<(String, i64, i64)>,
    /// `(project key, its title key)` of each project with items.
    pub titles: Vec<(i64, Option<String>)>,
    /// `(scope key, items, bytes, newest, oldest)`.
    pub scopes: Vec<ScopeRow>,
    /// The totals.
    pub totals: KeptTotals,
}
