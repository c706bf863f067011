//! Listing sync jobs with who may see them decided inside the query, so every job a
//! user may see is reachable by paging, whatever else the site ran.

use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::{JobStatus, Origin, Project, SyncJob, User};
use crate::auth::visibility::readable_projects_sql;
use crate::db::schema::{sync_jobs, users};
use crate::db::{DbConn, DbUuid};

/// Which jobs by scope.
#[derive(Debug, Clone, Default)]
pub enum JobScope {
    /// Every job the viewer may see.
    #[default]
    All,
    /// Whole-site jobs only.
    Site,
    /// The jobs that covered this project: its own, and whole-site jobs that started
    /// after it was created (or have not started yet).
    Covering(Project),
}

/// Filters and page of a job listing.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    /// Only this status.
    pub status: Option<JobStatus>,
    /// Only this origin.
    pub origin: Option<Origin>,
    /// Scope filter.
    pub scope: JobScope,
    /// Only jobs requested by this username.
    pub username: Option<String>,
    /// Only these jobs.
    pub uuids: Option<Vec<uuid::Uuid>>,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
}

impl SyncJob {
    /// One page of the jobs `viewer` may see (newest first) and how many match in all.
    ///
    /// Superusers see every job; others the jobs of projects they may read, and the
    /// whole-site jobs when they may read any project (a site job covers them). A site
    /// job's page stays for superusers: it names every project.
    pub fn list_visible(
        conn: &mut DbConn,
        viewer: &User,
        query: &JobQuery,
    ) -> QueryResult<(Vec<SyncJob>, i64)> {
        let filtered = || {
            let mut q = sync_jobs::table
                .into_boxed()
                .filter(visible_in_scope(viewer, &query.scope));
            if let Some(status) = query.status {
                q = q.filter(sync_jobs::status.eq(status));
            }
            if let Some(origin) = query.origin {
                q = q.filter(sync_jobs::origin.eq(origin));
            }
            if let Some(uuids) = &query.uuids {
                q = q.filter(sync_jobs::uuid.eq_any(uuids.iter().copied().map(DbUuid)));
            }
            if let Some(name) = &query.username {
                q = q.filter(
                    sync_jobs::user_id.assume_not_null().eq_any(
                        users::table
                            .filter(users::username.eq(name.clone()))
                            .select(users::id),
                    ),
                );
            }
            q
        };
        let total: i64 = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order(sync_jobs::id.desc())
            .select(SyncJob::as_select())
            .offset(query.offset)
            .limit(query.limit)
            .load(conn)?;
        Ok((rows, total))
    }
}

/// A filter on `sync_jobs`.
pub(crate) type JobFilter =
    Box<dyn BoxableExpression<sync_jobs::table, crate::db::MultiBackend, SqlType = Bool>>;

/// The jobs `viewer` may see (see [`SyncJob::list_visible`]) in `scope`, as a filter.
pub(crate) fn visible_in_scope(viewer: &User, scope: &JobScope) -> JobFilter {
    let visible: JobFilter = if viewer.is_superuser {
        Box::new(diesel::dsl::sql::<Bool>("1 = 1"))
    } else {
        // The readable set as one `IN` of a `UNION` (see `readable_projects_sql`), so
        // the database starts from the viewer's roles and the public projects instead
        // of testing every project: the Diesel form of the same rule made SQLite scan
        // the whole projects table for each page (the overview's jobs-per-day chart
        // of a user with five roles grew with the site).
        let readable = readable_projects_sql(viewer);
        Box::new(diesel::dsl::sql::<Bool>(&format!(
            "(sync_jobs.project_id IN (SELECT projects.id FROM projects WHERE {readable}) \
             OR (sync_jobs.project_id IS NULL \
             AND EXISTS (SELECT 1 FROM projects WHERE {readable})))"
        )))
    };
    match scope {
        JobScope::All => visible,
        JobScope::Site => Box::new(visible.and(sync_jobs::project_id.is_null())),
        JobScope::Covering(p) => Box::new(
            visible.and(
                sync_jobs::project_id
                    .eq(p.id)
                    .or(sync_jobs::project_id.is_null().and(
                        sync_jobs::started
                            .is_null()
                            .or(sync_jobs::started.ge(p.date_created)),
                    ))
                    .assume_not_null(),
            ),
        ),
    }
}
