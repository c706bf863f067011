//! Sync jobs: requested by the web, the API or the CLI, run by a worker, kept as history.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{sync_job_plugins, sync_jobs};
use crate::db::types::text_enum;
use crate::db::{DbConn, DbUuid, Scope, is_unique_violation, now};

text_enum! {
    /// Where a job (or an event) was requested.
    pub enum Origin {
        /// The admin pages.
        Web = "web",
        /// `sodarcache synccache` and the other commands.
        Cli = "cli",
        /// The REST API.
        Api = "api",
        /// The server's worker, on a plugin's schedule ([`crate::cache::schedule`]).
        Scheduled = "scheduled",
    }
}

text_enum! {
    /// Job life cycle: `queued` → `running` → `done` | `failed`.
    pub enum JobStatus {
        /// Waiting for a worker.
        Queued = "queued",
        /// A worker runs it.
        Running = "running",
        /// Every plugin succeeded.
        Done = "done",
        /// A plugin failed, or the run was cut short.
        Failed = "failed",
    }
}

impl JobStatus {
    /// Whether a job in this status has ended.
    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Done | JobStatus::Failed)
    }
}

/// One sync request and its outcome.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = sync_jobs)]
pub struct SyncJob {
    /// Row id.
    pub id: i64,
    /// Public identifier.
    pub uuid: DbUuid,
    /// The project, or none for the whole site.
    pub project_id: Option<i64>,
    /// Limit to one item name.
    pub item_name: Option<String>,
    /// Where it was requested.
    pub origin: Origin,
    /// Who asked.
    pub user_id: Option<i64>,
    /// Where it is in its life cycle.
    pub status: JobStatus,
    /// Requested (UTC).
    pub created: NaiveDateTime,
    /// Claimed by a worker.
    pub started: Option<NaiveDateTime>,
    /// Ended.
    pub finished: Option<NaiveDateTime>,
    /// Last sign of life of the running worker.
    pub heartbeat: Option<NaiveDateTime>,
    /// The worker that claimed it.
    pub worker: Option<String>,
    /// Why the job failed as a whole (plugin errors are in [`PluginRun`]).
    pub error: Option<String>,
    /// Only the plugin owning this app (none: every plugin).
    pub app_name: Option<String>,
}

/// One plugin's outcome within a job.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sync_job_plugins)]
pub struct PluginRun {
    /// The job.
    pub job_id: i64,
    /// Plugin name.
    pub plugin: String,
    /// Whether every call succeeded.
    pub ok: bool,
    /// The error text, if any.
    pub error: Option<String>,
    /// Items the plugin wrote.
    pub items_written: i64,
    /// Started (UTC).
    pub started: NaiveDateTime,
    /// Finished (UTC).
    pub finished: NaiveDateTime,
}

impl SyncJob {
    /// Whether the job has ended.
    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }

    /// The site, or the job's project.
    pub fn scope(&self) -> Scope {
        Scope::from_project_id(self.project_id)
    }

    /// Run time so far or in total, once started.
    pub fn duration(&self) -> Option<chrono::Duration> {
        let start = self.started?;
        Some(self.finished.unwrap_or_else(now) - start)
    }
}

impl SyncJob {
    /// Queues a job for the scope, or returns the queued or running job that already
    /// covers it (`true` when joined). Safe across server instances: a unique index
    /// allows one active job per scope.
    pub fn request(
        conn: &mut DbConn,
        scope: Scope,
        item_name: Option<&str>,
        origin: Origin,
        user_id: Option<i64>,
    ) -> QueryResult<(SyncJob, bool)> {
        for _ in 0..5 {
            let q = diesel::insert_into(sync_jobs::table).values((
                sync_jobs::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
                sync_jobs::project_id.eq(scope.project_id()),
                sync_jobs::item_name.eq(item_name),
                sync_jobs::origin.eq(origin),
                sync_jobs::user_id.eq(user_id),
                sync_jobs::status.eq(JobStatus::Queued),
                sync_jobs::created.eq(now()),
            ));
            let inserted = crate::on_backend!(&mut *conn, |c| q
                .returning(SyncJob::as_returning())
                .get_result(c));
            match inserted {
                Ok(job) => return Ok((job, false)),
                Err(e) if is_unique_violation(&e) => {
                    if let Some(job) = Self::find_active(conn, scope, item_name)? {
                        return Ok((job, true));
                    }
                    // The active job ended between our insert and our read: try again.
                }
                Err(e) => return Err(e),
            }
        }
        Err(diesel::result::Error::RollbackTransaction)
    }

    /// The queued or running job for this scope, if any.
    pub fn find_active(
        conn: &mut DbConn,
        scope: Scope,
        item_name: Option<&str>,
    ) -> QueryResult<Option<SyncJob>> {
        let mut q = sync_jobs::table
            .filter(sync_jobs::status.eq_any([JobStatus::Queued, JobStatus::Running]))
            .select(SyncJob::as_select())
            .into_boxed();
        q = match scope {
            Scope::Project(p) => q.filter(sync_jobs::project_id.eq(p)),
            Scope::Site => q.filter(sync_jobs::project_id.is_null()),
        };
        q = match item_name {
            Some(n) => q.filter(sync_jobs::item_name.eq(n.to_owned())),
            None => q.filter(sync_jobs::item_name.is_null()),
        };
        q.filter(sync_jobs::app_name.is_null())
            .first(conn)
            .optional()
    }

    /// Claims the oldest queued job for `worker`. On PostgreSQL `FOR UPDATE SKIP LOCKED`
    /// lets several server instances claim concurrently without taking the same job.
    pub fn claim_next(conn: &mut DbConn, worker: &str) -> QueryResult<Option<SyncJob>> {
        let next: Option<i64> = match conn {
            DbConn::Pg(c) => {
                return c.transaction(|c| {
                    let id: Option<i64> = sync_jobs::table
                        .filter(sync_jobs::status.eq(JobStatus::Queued))
                        .order(sync_jobs::id)
                        .select(sync_jobs::id)
                        .for_update()
                        .skip_locked()
                        .first(c)
                        .optional()?;
                    let Some(id) = id else { return Ok(None) };
                    let at = now();
                    diesel::update(sync_jobs::table.find(id))
                        .set((
                            sync_jobs::status.eq(JobStatus::Running),
                            sync_jobs::started.eq(at),
                            sync_jobs::heartbeat.eq(at),
                            sync_jobs::worker.eq(worker),
                        ))
                        .returning(SyncJob::as_returning())
                        .get_result(c)
                        .optional()
                });
            }
            DbConn::Sqlite(_) => sync_jobs::table
                .filter(sync_jobs::status.eq(JobStatus::Queued))
                .order(sync_jobs::id)
                .select(sync_jobs::id)
                .first(conn)
                .optional()?,
        };
        match next {
            // SQLite serializes writers; the conditional update below makes the claim safe.
            Some(id) => Self::claim(conn, id, worker),
            None => Ok(None),
        }
    }

    /// Claims this queued job for `worker`; none when another worker was faster.
    pub fn claim(conn: &mut DbConn, id: i64, worker: &str) -> QueryResult<Option<SyncJob>> {
        let at = now();
        let q = diesel::update(
            sync_jobs::table
                .filter(sync_jobs::id.eq(id))
                .filter(sync_jobs::status.eq(JobStatus::Queued)),
        )
        .set((
            sync_jobs::status.eq(JobStatus::Running),
            sync_jobs::started.eq(at),
            sync_jobs::heartbeat.eq(at),
            sync_jobs::worker.eq(worker),
        ));
        crate::on_backend!(conn, |c| q
            .returning(SyncJob::as_returning())
            .get_result(c)
            .optional())
    }

    /// Records that the worker running this job is alive.
    pub fn beat(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
        diesel::update(sync_jobs::table.find(id))
            .set(sync_jobs::heartbeat.eq(now()))
            .execute(conn)
    }

    /// Ends a running job with its plugin outcomes, in one transaction. A job that is no
    /// longer running (failed by a stale-job sweep) keeps its status.
    pub fn finish(
        conn: &mut DbConn,
        id: i64,
        runs: &[PluginRun],
        error: Option<&str>,
    ) -> QueryResult<SyncJob> {
        let ok = error.is_none() && runs.iter().all(|r| r.ok);
        let status = if ok {
            JobStatus::Done
        } else {
            JobStatus::Failed
        };
        conn.transaction(|conn| {
            // Only a job still running is ended here: if a sweep already failed it (its
            // worker was silent too long), that verdict stands; the outcomes are kept.
            diesel::update(
                sync_jobs::table
                    .filter(sync_jobs::id.eq(id))
                    .filter(sync_jobs::status.eq(JobStatus::Running)),
            )
            .set((
                sync_jobs::status.eq(status),
                sync_jobs::finished.eq(now()),
                sync_jobs::error.eq(error),
            ))
            .execute(conn)?;
            for run in runs {
                diesel::insert_into(sync_job_plugins::table)
                    .values(run)
                    .execute(conn)?;
            }
            sync_jobs::table
                .find(id)
                .select(SyncJob::as_select())
                .first(conn)
        })
    }

    /// Marks running jobs whose worker has been silent since `before` as failed, so no
    /// job stays `running` after its server died. Returns how many.
    pub fn fail_stale(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(
            sync_jobs::table
                .filter(sync_jobs::status.eq(JobStatus::Running))
                .filter(sync_jobs::heartbeat.lt(before)),
        )
        .set((
            sync_jobs::status.eq(JobStatus::Failed),
            sync_jobs::finished.eq(now()),
            sync_jobs::error.eq("The server running this job stopped before it finished"),
        ))
        .execute(conn)
    }

    /// The job with this UUID.
    pub fn find_by_uuid(conn: &mut DbConn, uuid: uuid::Uuid) -> QueryResult<Option<SyncJob>> {
        sync_jobs::table
            .filter(sync_jobs::uuid.eq(DbUuid(uuid)))
            .select(SyncJob::as_select())
            .first(conn)
            .optional()
    }

    /// The job with this id.
    pub fn find_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<SyncJob>> {
        sync_jobs::table
            .find(id)
            .select(SyncJob::as_select())
            .first(conn)
            .optional()
    }

    /// Newest jobs first; `scope` limits to one project's jobs or the site's.
    pub fn list(
        conn: &mut DbConn,
        scope: Option<Scope>,
        offset: i64,
        limit: i64,
    ) -> QueryResult<Vec<SyncJob>> {
        let mut q = sync_jobs::table
            .order(sync_jobs::id.desc())
            .select(SyncJob::as_select())
            .into_boxed();
        match scope {
            Some(Scope::Project(p)) => q = q.filter(sync_jobs::project_id.eq(p)),
            Some(Scope::Site) => q = q.filter(sync_jobs::project_id.is_null()),
            None => {}
        }
        q.offset(offset).limit(limit).load(conn)
    }

    /// The newest finished job of exactly this scope (for the site: whole-site jobs).
    pub fn latest_finished(conn: &mut DbConn, scope: Scope) -> QueryResult<Option<SyncJob>> {
        let q = sync_jobs::table
            .filter(sync_jobs::status.eq_any([JobStatus::Done, JobStatus::Failed]))
            .order(sync_jobs::id.desc())
            .select(SyncJob::as_select())
            .into_boxed();
        match scope {
            Scope::Site => q.filter(sync_jobs::project_id.is_null()),
            Scope::Project(id) => q.filter(sync_jobs::project_id.eq(id)),
        }
        .first(conn)
        .optional()
    }

    /// The jobs with these ids.
    pub fn find_many(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<SyncJob>> {
        sync_jobs::table
            .filter(sync_jobs::id.eq_any(ids))
            .select(SyncJob::as_select())
            .load(conn)
    }

    /// Plugin outcomes of a job, by plugin name.
    pub fn plugin_runs(conn: &mut DbConn, job_id: i64) -> QueryResult<Vec<PluginRun>> {
        sync_job_plugins::table
            .filter(sync_job_plugins::job_id.eq(job_id))
            .order(sync_job_plugins::plugin)
            .select(PluginRun::as_select())
            .load(conn)
    }
}
