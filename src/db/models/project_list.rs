//! The overview's listing of projects, decided in the database: who may read them,
//! search, filters, sort, one page, and totals. Every sort walks an index of a kept
//! value and stops after the page (migration `992001_overview_keys`); the number of
//! matches is the kept count for an unfiltered superuser, a count otherwise.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Text, Timestamp};

use super::{JobStatus, Project, StaleRules, User};
use crate::auth::visibility::readable_projects_sql;
use crate::db::schema::{cache_scope_stats, projects};
use crate::db::search::like_pattern;
use crate::db::{DbConn, MultiBackend};

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

    /// Where the kept sort value lives (see [`Kept`]).
    fn kept(self) -> Kept {
        match self {
            ProjectOrder::Title => Kept::Title,
            ProjectOrder::Sync => Kept::LastSync,
            ProjectOrder::Items => Kept::Stats("items"),
            ProjectOrder::Size => Kept::Stats("bytes"),
            ProjectOrder::Newest => Kept::Stats("newest"),
            ProjectOrder::Oldest => Kept::Stats("oldest"),
        }
    }
}

/// Where a sort's value is kept (migration `992001_overview_keys`); each has an index per
/// direction with the title key (and id) for ties, so a page is an index walk that
/// stops after its rows.
enum Kept {
    /// `projects.title_sort` (and the id): the `projects_title_sort` index.
    Title,
    /// `projects.last_sync_finished` (NULL: never synced).
    LastSync,
    /// A column of `cache_scope_stats`, which has a row only for scopes with items.
    Stats(&'static str),
}

/// `EXISTS` an item of `projects.id` matching the filter: the stale-items filter as a
/// subquery of the projects query (no list of ids bound).
struct HasItemMatching(super::dashboard::ItemFilter);

impl diesel::expression::Expression for HasItemMatching {
    type SqlType = Bool;
}

impl diesel::query_builder::QueryFragment<MultiBackend> for HasItemMatching {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, MultiBackend>,
    ) -> QueryResult<()> {
        out.push_sql(
            "EXISTS (SELECT 1 FROM cache_items \
             WHERE cache_items.project_key = COALESCE(projects.cache_key, projects.id) AND (",
        );
        self.0.walk_ast(out.reborrow())?;
        out.push_sql("))");
        Ok(())
    }
}

impl diesel::query_builder::QueryId for HasItemMatching {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS> diesel::expression::AppearsOnTable<QS> for HasItemMatching {}
impl<QS> diesel::expression::SelectableExpression<QS> for HasItemMatching {}
impl diesel::expression::ValidGrouping<()> for HasItemMatching {
    type IsAggregate = diesel::expression::is_aggregate::Never;
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

/// The overview's filters on a query whose rows are `projects` (alone, or joined with
/// their `cache_scope_stats` row): a macro, because the two boxed queries differ in type.
macro_rules! overview_filters {
    ($q:expr, $user:expr, $query:expr) => {{
        let query: &ProjectQuery = $query;
        let mut q = $q
            .filter(sql::<Bool>(&readable_projects_sql($user)))
            .into_boxed();
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
        if let Some(rules) = &query.stale_items {
            q = q.filter(HasItemMatching(rules.filter()));
        }
        if query.failed {
            // As a literal, so the planner can use the partial index of failed projects.
            q = q.filter(sql::<Bool>(&format!(
                "projects.last_sync_status = '{}'",
                JobStatus::Failed.as_str()
            )));
        }
        q
    }};
}

/// Rows `offset..offset + limit` of one part of a listing.
type Part<'a> = &'a dyn Fn(&mut DbConn, i64, i64) -> QueryResult<Vec<Project>>;
/// How many rows one part of a listing has.
type PartLen<'a> = &'a dyn Fn(&mut DbConn) -> QueryResult<i64>;

/// Rows `offset..offset + limit` of two parts listed one after the other: `first(offset,
/// limit)` and `second(offset, limit)` give rows of their part, `first_len()` how many
/// rows the first part has (asked only for a page past its end).
fn two_parts(
    conn: &mut DbConn,
    offset: i64,
    limit: i64,
    first: Part<'_>,
    first_len: PartLen<'_>,
    second: Part<'_>,
) -> QueryResult<Vec<Project>> {
    let mut rows = first(conn, offset, limit)?;
    let got = rows.len() as i64;
    if got >= limit {
        return Ok(rows);
    }
    // The first part ends on this page (or before it).
    let first_total = if got > 0 || offset == 0 {
        offset + got
    } else {
        first_len(conn)?
    };
    let skip = (offset - first_total).max(0);
    rows.extend(second(conn, skip, limit - got)?);
    Ok(rows)
}

/// Rows `offset..offset + limit` of the projects with kept aggregates that `user` may
/// read, in `order` (of `cache_scope_stats` columns): a walk of the kept aggregates' index for that order,
/// each row's project looked up by id, then the page's projects by id.
///
/// As a join of `projects` and `cache_scope_stats`, SQLite (with or without `ANALYZE`)
/// scans every project and sorts them all in a temporary B-tree; with the projects in
/// an `EXISTS` it can only start from `cache_scope_stats`, and stops after the page.
/// Used only where nothing narrows the projects (a superuser's page without search or
/// filters): a search, a filter or a user's roles can leave few among many, and then
/// starting from the projects, the planner's choice in the join, is the better plan.
fn readable_by_stats(
    conn: &mut DbConn,
    user: &User,
    order: &str,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<Project>> {
    let keys: Vec<i64> = cache_scope_stats::table
        .filter(sql::<Bool>(&format!(
            "EXISTS (SELECT 1 FROM projects WHERE projects.id = cache_scope_stats.project_key AND {})",
            readable_projects_sql(user)
        )))
        .select(cache_scope_stats::project_key)
        .order(sql::<Integer>(order))
        .offset(offset)
        .limit(limit)
        .load(conn)?;
    let mut by_id: std::collections::HashMap<i64, Project> = Project::find_many(conn, &keys)?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    Ok(keys.iter().filter_map(|k| by_id.remove(k)).collect())
}

impl Project {
    /// One page of the projects `user` may read, with the number of matches.
    ///
    /// Each order walks one index of a kept value (migration `992001_overview_keys`)
    /// and stops after the page: the title key, the kept last sync, or a column of the
    /// kept per-scope aggregates (which carry the title key for ties). Projects without
    /// a value (never synced; no items for newest and oldest) come after the others in
    /// title order, a second walk; for items and size, none is 0 (first ascending).
    pub fn list_readable(
        conn: &mut DbConn,
        user: &User,
        query: &ProjectQuery,
    ) -> QueryResult<(Vec<Project>, i64)> {
        let unfiltered = query.search.as_deref().is_none_or(str::is_empty)
            && !query.empty
            && query.stale_before.is_none()
            && query.stale_items.is_none()
            && !query.failed;
        // A superuser reads every project: without filters the kept count is the total.
        let total: i64 = if unfiltered && user.is_superuser {
            super::kept_stats::totals(conn)?.projects
        } else {
            super::kept_stats::fold(conn)?;
            overview_filters!(projects::table, user, query)
                .count()
                .get_result(conn)?
        };
        let dir = if query.desc { "DESC" } else { "ASC" };
        let by_title = "projects.title_sort ASC, projects.id ASC";
        let (offset, limit) = (query.offset, query.limit);
        let rows = match query.order.kept() {
            Kept::Title => overview_filters!(projects::table, user, query)
                .select(Project::as_select())
                .order(sql::<Integer>(&format!(
                    "projects.title_sort {dir}, projects.id {dir}"
                )))
                .offset(offset)
                .limit(limit)
                .load(conn)?,
            Kept::LastSync => {
                let synced = "projects.last_sync_finished IS NOT NULL";
                two_parts(
                    conn,
                    offset,
                    limit,
                    &|c, o, l| {
                        overview_filters!(projects::table, user, query)
                            .filter(sql::<Bool>(synced))
                            .select(Project::as_select())
                            .order(sql::<Integer>(&format!(
                                "projects.last_sync_finished {dir}, {by_title}"
                            )))
                            .offset(o)
                            .limit(l)
                            .load(c)
                    },
                    &|c| {
                        overview_filters!(projects::table, user, query)
                            .filter(sql::<Bool>(synced))
                            .count()
                            .get_result(c)
                    },
                    &|c, o, l| {
                        overview_filters!(projects::table, user, query)
                            .filter(sql::<Bool>("projects.last_sync_finished IS NULL"))
                            .select(Project::as_select())
                            .order(sql::<Integer>(by_title))
                            .offset(o)
                            .limit(l)
                            .load(c)
                    },
                )?
            }
            Kept::Stats(column) => {
                super::kept_stats::fold(conn)?;
                let joined = || {
                    projects::table.inner_join(
                        cache_scope_stats::table
                            .on(cache_scope_stats::project_key.eq(projects::id)),
                    )
                };
                let order = format!(
                    "cache_scope_stats.{column} {dir}, cache_scope_stats.title_sort ASC, cache_scope_stats.project_key ASC"
                );
                let with: Part<'_> = &|c, o, l| {
                    if unfiltered && user.is_superuser {
                        return readable_by_stats(c, user, &order, o, l);
                    }
                    overview_filters!(joined(), user, query)
                        .select(Project::as_select())
                        .order(sql::<Integer>(&order))
                        .offset(o)
                        .limit(l)
                        .load(c)
                };
                let with_len: PartLen<'_> = &|c| {
                    overview_filters!(joined(), user, query)
                        .count()
                        .get_result(c)
                };
                let without: Part<'_> = &|c, o, l| {
                    overview_filters!(projects::table, user, query)
                            .filter(sql::<Bool>(
                                "NOT EXISTS (SELECT 1 FROM cache_scope_stats ks WHERE ks.project_key = projects.id)",
                            ))
                            .select(Project::as_select())
                            .order(sql::<Integer>(by_title))
                            .offset(o)
                            .limit(l)
                            .load(c)
                };
                let without_len: PartLen<'_> = &|c| {
                    overview_filters!(projects::table, user, query)
                        .filter(sql::<Bool>(
                            "NOT EXISTS (SELECT 1 FROM cache_scope_stats ks WHERE ks.project_key = projects.id)",
                        ))
                        .count()
                        .get_result(c)
                };
                // No items counts as 0 items and 0 bytes: first ascending, last
                // descending. No newest or oldest update goes last either way.
                let zero_first = matches!(column, "items" | "bytes") && !query.desc;
                if zero_first {
                    two_parts(conn, offset, limit, without, without_len, with)?
                } else {
                    two_parts(conn, offset, limit, with, with_len, without)?
                }
            }
        };
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
        let readable = readable_projects_sql(user);
        let projects: i64 = projects::table
            .filter(sql::<Bool>(&readable))
            .count()
            .get_result(conn)?;
        super::kept_stats::fold(conn)?;
        // SUM(bigint) is numeric on PostgreSQL: cast it back so both backends agree.
        let (items, bytes): (i64, i64) = cache_scope_stats::table
            .filter(sql::<Bool>(&format!(
                "cache_scope_stats.project_key IN (SELECT projects.id FROM projects WHERE {readable})"
            )))
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

    /// The last sync of each of `ids`, as `(project id, job id)` for those that have
    /// one: the newest finished job that covered the project, its own or a site-wide
    /// job started at or after the project was created, kept per project by the
    /// database (migration `992001_overview_keys`) wherever a job finishes.
    pub fn last_sync_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
        let rows: Vec<(i64, Option<i64>)> = projects::table
            .filter(projects::id.eq_any(ids))
            .select((projects::id, projects::last_sync_job))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .filter_map(|(p, j)| j.map(|j| (p, j)))
            .collect())
    }
}
