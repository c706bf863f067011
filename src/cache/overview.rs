//! The overview page's data: one page of the projects a user may read, decided in the
//! database, with each row's statistics and truthful last sync, totals, and the
//! site-wide items. A fixed number of queries per page, whatever the number of projects.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::Result;
use crate::db::models::{CacheItem, Project, ProjectQuery, ReadableTotals, SyncJob, User};
use crate::db::{DbConn, Scope};

/// Aggregates of one scope's items.
#[derive(Debug, Clone, Default)]
pub struct ScopeStats {
    /// Items.
    pub items: i64,
    /// Total data size in bytes.
    pub bytes: i64,
    /// Oldest update.
    pub oldest: Option<NaiveDateTime>,
    /// Newest update.
    pub newest: Option<NaiveDateTime>,
    /// Apps with items, sorted.
    pub apps: Vec<String>,
    /// The newest finished sync job that covered the scope (see
    /// [`Project::last_sync_ids`](crate::db::models::Project::last_sync_ids)); its status is the
    /// scope's outcome.
    pub last_sync: Option<SyncJob>,
}

/// A project as the overview lists it.
#[derive(Debug, Clone)]
pub struct ProjectRow {
    /// The project.
    pub project: Project,
    /// Its cache.
    pub stats: ScopeStats,
}

/// The overview page's data.
#[derive(Debug, Clone)]
pub struct Overview {
    /// This page of readable projects.
    pub projects: Vec<ProjectRow>,
    /// Projects matching the search and filters, in all pages.
    pub matching: i64,
    /// Every readable project, with its items and bytes.
    pub totals: ReadableTotals,
    /// Site-wide items, with the last whole-site sync (empty when the viewer may not
    /// read them).
    pub site: ScopeStats,
    /// Whether the viewer may read the site-wide items
    /// ([`site_permissions`](crate::auth::rules::site_permissions)).
    pub site_readable: bool,
}

/// One page of the projects `user` may read, searched, filtered and sorted as `query`
/// says, plus the site-wide items when the site rule lets them (`site_open`: the
/// `SODARCACHE_SITE_ITEMS_READABLE_BY_ALL` setting).
pub fn overview(
    conn: &mut DbConn,
    user: &User,
    query: &ProjectQuery,
    site_open: bool,
) -> Result<Overview> {
    let (projects, matching) = Project::list_readable(conn, user, query)?;
    let totals = Project::readable_totals(conn, user)?;
    let mut scopes: Vec<Scope> = projects.iter().map(Scope::from).collect();
    scopes.push(Scope::Site);
    let mut stats: HashMap<Scope, ScopeStats> = HashMap::new();
    for t in CacheItem::stats_for(conn, &scopes)? {
        stats.insert(
            t.scope,
            ScopeStats {
                items: t.items,
                bytes: t.bytes,
                oldest: t.oldest,
                newest: t.newest,
                ..ScopeStats::default()
            },
        );
    }
    for (scope, app) in CacheItem::apps_for(conn, &scopes)? {
        stats.entry(scope).or_default().apps.push(app);
    }
    let ids: Vec<i64> = projects.iter().map(|p| p.id).collect();
    let last = Project::last_sync_ids(conn, &ids)?;
    let site_job = SyncJob::latest_finished(conn, Scope::Site)?;
    let job_ids: Vec<i64> = last.iter().map(|(_, j)| *j).collect();
    let jobs: HashMap<i64, SyncJob> = SyncJob::find_many(conn, &job_ids)?
        .into_iter()
        .map(|j| (j.id, j))
        .collect();
    let by_project: HashMap<i64, i64> = last.into_iter().collect();
    let rows = projects
        .into_iter()
        .map(|project| {
            let mut s = stats.remove(&Scope::from(&project)).unwrap_or_default();
            s.last_sync = by_project
                .get(&project.id)
                .and_then(|j| jobs.get(j))
                .cloned();
            ProjectRow { project, stats: s }
        })
        .collect();
    let site_readable = crate::auth::rules::site_permissions(user, site_open).read;
    let mut site = stats.remove(&Scope::Site).unwrap_or_default();
    site.last_sync = site_job;
    if !site_readable {
        site = ScopeStats::default();
    }
    Ok(Overview {
        projects: rows,
        matching,
        totals,
        site,
        site_readable,
    })
}
