//! The overview's listing of projects, decided in the database: who may read them,
//! search, filters, sort, one page, and totals. Each page costs a fixed number of
//! index-backed queries whatever the number of projects (sorting by a statistic or
//! filtering by one has to look at every readable project, by index).

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Text, Timestamp};

use super::{JobStatus, Project, StaleRules, User};
use crate::auth::visibility::{readable_project_ids, readable_projects};
use crate::db::DbConn;
use crate::db::schema::{cache_items, cache_scope_stats, projects};
use crate::db::search::like_pattern;

/// What the overview can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProjectOrder {
    /// Full title, numbers in natural order.
    #[default]
    Title,
    /// Number of items.
    Items,
    /// Bytes cached.
    Size,
    /// Newest update.
    Newest,
    /// Oldest update.
    Oldest,
    /// When the last sync covering the project finished.
    Sync,
}

impl ProjectOrder {
    /// Every order with its URL key.
    pub const ALL: [(ProjectOrder, &'static str); 6] = [
        (ProjectOrder::Title, "title"),
        (ProjectOrder::Items, "items"),
        (ProjectOrder::Size, "size"),
        (ProjectOrder::Newest, "newest"),
        (ProjectOrder::Oldest, "oldest"),
        (ProjectOrder::Sync, "sync"),
    ];

    /// Parses a URL key.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, k)| *k == s).map(|(o, _)| *o)
    }

    /// The URL key.
    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(o, _)| *o == self)
            .map_or("title", |(_, k)| k)
    }

    /// The sort value as SQL over `projects` (NULL for projects without one).
    fn value_sql(self) -> String {
        // The kept aggregates (`cache_scope_stats`): a project without items has no row.
        let kept = "FROM cache_scope_stats ks WHERE ks.project_key = projects.id";
        match self {
            ProjectOrder::Title => {
                "COALESCE(projects.title_sort, lower(projects.full_title))".into()
            }
            ProjectOrder::Items => format!("COALESCE((SELECT ks.items {kept}), 0)"),
            ProjectOrder::Size => format!("COALESCE((SELECT ks.bytes {kept}), 0)"),
            ProjectOrder::Newest => format!("(SELECT ks.newest {kept})"),
            ProjectOrder::Oldest => format!("(SELECT ks.oldest {kept})"),
            ProjectOrder::Sync => format!(
                "(SELECT lj.finished FROM sync_jobs lj WHERE lj.id = {})",
                last_sync_id_sql()
            ),
        }
    }
}

/// The id of the newest finished sync job that covered `projects.id`: its own, or a
/// site-wide job started after the project was created (a site job syncs the projects
/// that exist when it starts). NULL when none did.
pub fn last_sync_id_sql() -> String {
    let finished = JobStatus::finished_sql();
    let own = format!(
        "(SELECT j.id FROM sync_jobs j WHERE j.project_id = projects.id AND j.status IN {finished} ORDER BY j.id DESC LIMIT 1)"
    );
    // The guard (one probe of the (project_id, started) index, evaluated once per
    // statement) skips the walk over every site job for a project none started after.
    let site = format!(
        "(CASE WHEN projects.date_created <= (SELECT MAX(g.started) FROM sync_jobs g WHERE g.project_id IS NULL) \
         THEN (SELECT j.id FROM sync_jobs j WHERE j.project_id IS NULL AND j.status IN {finished} AND j.started >= projects.date_created ORDER BY j.id DESC LIMIT 1) END)"
    );
    format!(
        "(CASE WHEN {own} IS NULL THEN {site} WHEN {site} IS NULL THEN {own} WHEN {own} > {site} THEN {own} ELSE {site} END)"
    )
}

/// Search, filters, sort and page of the overview.
#[derive(Debug, Clone, Default)]
pub struct ProjectQuery {
    /// Case-insensitive substring of the full title (category path included).
    pub search: Option<String>,
    /// Only projects whose last sync failed.
    pub failed: bool,
    /// Only projects with items, the newest older than this.
    pub stale_before: Option<NaiveDateTime>,
    /// Only projects without items.
    pub empty: bool,
    /// Only projects with items past their plugin's freshness limit under these rules.
    pub stale_items: Option<StaleRules>,
    /// Sort column.
    pub order: ProjectOrder,
    /// Descending.
    pub desc: bool,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

/// Number of readable projects, and the items and bytes cached in them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadableTotals {
    /// Projects (type PROJECT) the user may read.
    pub projects: i64,
    /// Items in them.
    pub items: i64,
    /// Bytes in them.
    pub bytes: i64,
}

impl Project {
    /// One page of the projects `user` may read, with the number of matches.
    pub fn list_readable(
        conn: &mut DbConn,
        user: &User,
        query: &ProjectQuery,
    ) -> QueryResult<(Vec<Project>, i64)> {
        // The projects with a stale item, first: a subquery would nest a boxed filter,
        // which MultiBackend cannot render (PostgreSQL binds them as one array).
        let stale_ids: Option<Vec<i64>> = match &query.stale_items {
            Some(rules) => Some(
                cache_items::table
                    .select(cache_items::project_key)
                    .distinct()
                    .into_boxed()
                    .filter(rules.filter())
                    .load(conn)?,
            ),
            None => None,
        };
        let filtered = || {
            let mut q = projects::table.filter(readable_projects(user)).into_boxed();
            if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
                q = q.filter(
                    sql::<Bool>("COALESCE(projects.title_fold, lower(projects.full_title)) LIKE ")
                        .bind::<Text, _>(like_pattern(search))
                        .sql(" ESCAPE '\\'"),
                );
            }
            if query.empty {
                q = q.filter(sql::<Bool>(
                    "NOT EXISTS (SELECT 1 FROM cache_scope_stats ks WHERE ks.project_key = projects.id)",
                ));
            }
            if let Some(before) = query.stale_before {
                q = q.filter(
                    sql::<Bool>(
                        "(SELECT ks.newest FROM cache_scope_stats ks WHERE ks.project_key = projects.id) < ",
                    )
                    .bind::<Timestamp, _>(before),
                );
            }
            if let Some(ids) = &stale_ids {
                q = q.filter(projects::id.eq_any(ids.clone()));
            }
            if query.failed {
                q = q.filter(sql::<Bool>(&format!(
                    "(SELECT lj.status FROM sync_jobs lj WHERE lj.id = {}) = '{}'",
                    last_sync_id_sql(),
                    JobStatus::Failed.as_str()
                )));
            }
            q
        };
        let unfiltered = query.search.as_deref().is_none_or(str::is_empty)
            && !query.empty
            && query.stale_before.is_none()
            && !query.failed;
        // A superuser reads every project: without filters the kept count is the total.
        let total: i64 = if unfiltered && user.is_superuser {
            super::kept_stats::totals(conn)?.projects
        } else {
            super::kept_stats::fold(conn)?;
            filtered().count().get_result(conn)?
        };
        let dir = if query.desc { "DESC" } else { "ASC" };
        let value = query.order.value_sql();
        // Projects without a value (no items, never synced) go last either way, then
        // ties by title and id, so every order is total and the same on both backends.
        let order = if query.order == ProjectOrder::Title {
            format!("{value} {dir}, projects.id {dir}")
        } else {
            format!(
                "CASE WHEN {value} IS NULL THEN 1 ELSE 0 END, {value} {dir}, {} ASC, projects.id ASC",
                ProjectOrder::Title.value_sql()
            )
        };
        let rows = filtered()
            .select(Project::as_select())
            .order(sql::<Integer>(&order))
            .offset(query.offset)
            .limit(query.limit)
            .load(conn)?;
        Ok((rows, total))
    }

    /// How many projects `user` may read, and the items and bytes cached in them.
    /// A superuser's come from the kept totals; anyone else's from the kept rows of the
    /// projects they may read (bounded by their roles and the public projects).
    pub fn readable_totals(conn: &mut DbConn, user: &User) -> QueryResult<ReadableTotals> {
        if user.is_superuser {
            let kept = super::kept_stats::totals(conn)?;
            return Ok(ReadableTotals {
                projects: kept.projects,
                items: kept.items,
                bytes: kept.bytes,
            });
        }
        let projects: i64 = projects::table
            .filter(readable_projects(user))
            .count()
            .get_result(conn)?;
        super::kept_stats::fold(conn)?;
        // SUM(bigint) is numeric on PostgreSQL: cast it back so both backends agree.
        let (items, bytes): (i64, i64) = cache_scope_stats::table
            .filter(cache_scope_stats::project_key.eq_any(readable_project_ids(user)))
            .select((
                sql::<BigInt>("CAST(COALESCE(SUM(cache_scope_stats.items), 0) AS BIGINT)"),
                sql::<BigInt>("CAST(COALESCE(SUM(cache_scope_stats.bytes), 0) AS BIGINT)"),
            ))
            .first(conn)?;
        Ok(ReadableTotals {
            projects,
            items,
            bytes,
        })
    }

    /// The newest finished sync job covering each of `ids` (see [`last_sync_id_sql`]),
    /// as `(project id, job id)` for those that have one.
    pub fn last_sync_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
        let rows: Vec<(i64, Option<i64>)> = projects::table
            .filter(projects::id.eq_any(ids))
            .select((
                projects::id,
                sql::<diesel::sql_types::Nullable<BigInt>>(&last_sync_id_sql()),
            ))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .filter_map(|(p, j)| j.map(|j| (p, j)))
            .collect())
    }
}
