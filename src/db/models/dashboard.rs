//! The dashboards' aggregates: items and bytes per app (from the kept aggregates), how
//! many items match an age filter, and finished sync jobs per day and status, each one
//! grouped query over the rows a viewer may read (the same rules as the page that shows
//! them).

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::{JobScope, JobStatus, User};
use crate::auth::visibility::readable_projects_sql;
use crate::db::schema::{cache_app_stats, cache_app_totals, cache_items, sync_jobs};
use crate::db::scope::live_row;
use crate::db::{DbConn, MultiBackend, Scope};

/// A filter on `cache_items`.
pub type ItemFilter = Box<dyn BoxableExpression<cache_items::table, MultiBackend, SqlType = Bool>>;

/// Whose items a dashboard counts.
#[derive(Debug, Clone)]
pub enum ItemsOf {
    /// The projects `viewer` may read, and the site-wide items when `site` (the viewer
    /// may read them).
    Readable {
        /// Who is looking.
        viewer: User,
        /// Whether the site-wide items count.
        site: bool,
    },
    /// One scope (its page has checked the viewer may read it).
    Scope(Scope),
}

impl ItemsOf {
    /// The items counted, as a filter.
    pub fn filter(&self) -> ItemFilter {
        match self {
            // A superuser reads every project: no list of them (categories' items, which
            // only library callers write, count as in the kept totals).
            ItemsOf::Readable { viewer, site } if viewer.is_superuser => {
                let live = live_row();
                if *site {
                    Box::new(live)
                } else {
                    Box::new(live.and(cache_items::project_key.ne(0)))
                }
            }
            ItemsOf::Readable { viewer, site } => {
                let projects = sql::<Bool>(&format!(
                    "cache_items.project_key IN \
                     (SELECT COALESCE(projects.cache_key, projects.id) FROM projects WHERE {})",
                    readable_projects_sql(viewer)
                ));
                if *site {
                    Box::new(projects.or(cache_items::project_key.eq(0)))
                } else {
                    Box::new(projects)
                }
            }
            ItemsOf::Scope(scope) => Box::new(cache_items::project_key.eq(scope.live_key())),
        }
    }
}

/// Items and bytes of one app.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct AppUsage {
    /// App name.
    pub app_name: String,
    /// Items.
    pub items: i64,
    /// Sum of the items' `size_bytes`.
    pub bytes: i64,
}

/// [`AppUsage`] of each app with items in `of`, most bytes first (then by name), from
/// the kept per-scope-and-app aggregates ([`kept_stats`](super::kept_stats)): one row per
/// readable scope and app is read, not the items.
pub fn usage_by_app(conn: &mut DbConn, of: &ItemsOf) -> QueryResult<Vec<AppUsage>> {
    super::kept_stats::fold(conn)?;
    if let ItemsOf::Readable { viewer, site } = of
        && viewer.is_superuser
    {
        return superuser_usage(conn, *site);
    }
    let scopes: Box<dyn BoxableExpression<cache_app_stats::table, MultiBackend, SqlType = Bool>> =
        match of {
            ItemsOf::Readable { viewer, site } => {
                let projects = sql::<Bool>(&format!(
                    "cache_app_stats.project_key IN (SELECT projects.id FROM projects WHERE {})",
                    readable_projects_sql(viewer)
                ));
                if *site {
                    Box::new(projects.or(cache_app_stats::project_key.eq(0)))
                } else {
                    Box::new(projects)
                }
            }
            ItemsOf::Scope(scope) => Box::new(cache_app_stats::project_key.eq(scope.key())),
        };
    // SUM(bigint) is numeric on PostgreSQL: cast it back so both backends agree.
    let mut rows: Vec<AppUsage> = cache_app_stats::table
        .group_by(cache_app_stats::app_name)
        .select((
            cache_app_stats::app_name,
            sql::<BigInt>("CAST(SUM(cache_app_stats.items) AS BIGINT)"),
            sql::<BigInt>("CAST(SUM(cache_app_stats.bytes) AS BIGINT)"),
        ))
        .into_boxed()
        .filter(scopes)
        .filter(cache_app_stats::items.gt(0))
        .load(conn)?;
    rows.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.app_name.cmp(&b.app_name))
    });
    Ok(rows)
}

/// A superuser's [`usage_by_app`]: the kept per-app totals over every project
/// (`cache_app_totals`, one row per app), plus the site-wide rows when `site`.
fn superuser_usage(conn: &mut DbConn, site: bool) -> QueryResult<Vec<AppUsage>> {
    let mut rows: Vec<AppUsage> = cache_app_totals::table
        .filter(cache_app_totals::items.gt(0))
        .select((
            cache_app_totals::app_name,
            cache_app_totals::items,
            cache_app_totals::bytes,
        ))
        .load(conn)?;
    if site {
        let site_rows: Vec<AppUsage> = cache_app_stats::table
            .filter(cache_app_stats::project_key.eq(0))
            .filter(cache_app_stats::items.gt(0))
            .select((
                cache_app_stats::app_name,
                cache_app_stats::items,
                cache_app_stats::bytes,
            ))
            .load(conn)?;
        for s in site_rows {
            match rows.iter_mut().find(|r| r.app_name == s.app_name) {
                Some(r) => {
                    r.items += s.items;
                    r.bytes += s.bytes;
                }
                None => rows.push(s),
            }
        }
    }
    rows.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.app_name.cmp(&b.app_name))
    });
    Ok(rows)
}

/// How many items of `of` match `filter`.
pub fn count_items(conn: &mut DbConn, of: &ItemsOf, filter: ItemFilter) -> QueryResult<i64> {
    cache_items::table
        .select(count_star())
        .into_boxed()
        .filter(of.filter())
        .filter(filter)
        .get_result(conn)
}

/// Finished jobs of one day and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayOutcome {
    /// The UTC day the jobs finished, `YYYY-MM-DD`.
    pub day: String,
    /// Their status.
    pub status: JobStatus,
    /// How many.
    pub jobs: i64,
}

/// The jobs `viewer` may see in `scope` that finished at or after `since`, counted per
/// UTC day and status.
pub fn outcomes_by_day(
    conn: &mut DbConn,
    viewer: &User,
    scope: &JobScope,
    since: NaiveDateTime,
) -> QueryResult<Vec<DayOutcome>> {
    let day = match conn {
        DbConn::Pg(_) => "to_char(sync_jobs.finished, 'YYYY-MM-DD')",
        DbConn::Sqlite(_) => "strftime('%Y-%m-%d', sync_jobs.finished)",
    };
    let rows: Vec<(String, String, i64)> = sync_jobs::table
        .group_by(sql::<Text>(&format!("{day}, sync_jobs.status")))
        .select((
            sql::<Text>(day),
            sql::<Text>("sync_jobs.status"),
            count_star(),
        ))
        .into_boxed()
        .filter(super::job_list::visible_in_scope(viewer, scope))
        // Only finished jobs have a finish time; the statuses are checked below. No
        // status filter here: SQLite (no ANALYZE) would walk every finished job by the
        // status index instead of the range of the `finished` index.
        .filter(sync_jobs::finished.ge(since))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(day, status, jobs)| {
            let status = JobStatus::FINISHED
                .into_iter()
                .find(|s| s.as_str() == status)?;
            Some(DayOutcome { day, status, jobs })
        })
        .collect())
}
