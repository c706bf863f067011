//! Sync jobs: requested by the web, the API or the CLI, run by a worker, kept as history.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{sync_job_plugins, sync_job_progress, sync_jobs};
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
    /// Job life cycle: `queued` → `running` → `done` | `failed` | `cancelled`.
    pub enum JobStatus {
        /// Waiting for a worker.
        Queued = "queued",
        /// A worker runs it.
        Running = "running",
        /// Every plugin succeeded.
        Done = "done",
        /// A plugin failed, or the run was cut short.
        Failed = "failed",
        /// Someone cancelled it (queued, or running: the plugins were stopped).
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    /// The statuses of a job that has ended.
    pub const FINISHED: [JobStatus; 3] = [JobStatus::Done, JobStatus::Failed, JobStatus::Cancelled];
    /// The statuses of a job that has not ended.
    pub const ACTIVE: [JobStatus; 2] = [JobStatus::Queued, JobStatus::Running];

    /// Whether a job in this status has ended.
    pub fn is_finished(self) -> bool {
        Self::FINISHED.contains(&self)
    }

    /// `('done', 'failed', 'cancelled')`, for SQL written as text.
    pub fn finished_sql() -> String {
        let names: Vec<String> = Self::FINISHED
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("({})", names.join(", "))
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
    /// Only the plugin owning this app (a plugin's name or one of its sub-apps).
    pub app_name: Option<String>,
    /// When someone asked to cancel it.
    pub cancel_requested: Option<NaiveDateTime>,
    /// Who asked to cancel it.
    pub cancelled_by: Option<i64>,
}

/// The latest progress a job's plugin reported.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sync_job_progress)]
pub struct JobProgress {
    /// The plugin that reported it.
    pub plugin: String,
    /// Steps done.
    pub done: i64,
    /// Steps in total (0: unknown).
    pub total: i64,
    /// What it was doing.
    pub message: String,
    /// When it was stored.
    pub updated: NaiveDateTime,
}

/// What a job is asked to cover, for [`SyncJob::request`].
#[derive(Debug, Clone, Copy)]
pub struct JobScopeRequest<'a> {
    /// The site, or one project.
    pub scope: Scope,
    /// One app (a plugin's name or a sub-app), or every plugin.
    pub app_name: Option<&'a str>,
    /// The app values of a job that covers this one's app: the app itself and the
    /// plugin owning it (a job for a plugin refreshes its sub-apps too).
    pub covering_apps: &'a [&'a str],
    /// One item name, or every item.
    pub item_name: Option<&'a str>,
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
    /// Queues a job, or returns the queued or running job that already covers the
    /// request (`true` when joined).
    ///
    /// A job covers a request when it is at least as wide on every axis: the site
    /// covers every project, every plugin covers one app (and a plugin covers its
    /// sub-apps), every item covers one name. A narrower job never answers a wider
    /// request: that one is queued. Safe across server instances: a unique index
    /// allows one active job per exact scope, and a lost race joins the winner.
    pub fn request(
        conn: &mut DbConn,
        req: &JobScopeRequest<'_>,
        origin: Origin,
        user_id: Option<i64>,
    ) -> QueryResult<(SyncJob, bool)> {
        for _ in 0..5 {
            if let Some(job) = Self::find_covering(conn, req)? {
                return Ok((job, true));
            }
            let q = diesel::insert_into(sync_jobs::table).values((
                sync_jobs::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
                sync_jobs::project_id.eq(req.scope.project_id()),
                sync_jobs::app_name.eq(req.app_name),
                sync_jobs::item_name.eq(req.item_name),
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
                // Another request of the same scope won the race: join it (next turn).
                Err(e) if is_unique_violation(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Err(diesel::result::Error::RollbackTransaction)
    }

    /// The oldest queued or running job that covers the request (see [`Self::request`]).
    pub fn find_covering(
        conn: &mut DbConn,
        req: &JobScopeRequest<'_>,
    ) -> QueryResult<Option<SyncJob>> {
        let mut q = sync_jobs::table
            .filter(sync_jobs::status.eq_any(JobStatus::ACTIVE))
            .order(sync_jobs::id)
            .select(SyncJob::as_select())
            .into_boxed();
        q = match req.scope {
            Scope::Project(p) => q.filter(
                sync_jobs::project_id
                    .eq(p)
                    .or(sync_jobs::project_id.is_null()),
            ),
            Scope::Site => q.filter(sync_jobs::project_id.is_null()),
        };
        q = match req.app_name {
            Some(_) => {
                let apps: Vec<String> = req.covering_apps.iter().map(|a| (*a).to_owned()).collect();
                q.filter(
                    sync_jobs::app_name
                        .is_null()
                        .or(sync_jobs::app_name.eq_any(apps)),
                )
            }
            None => q.filter(sync_jobs::app_name.is_null()),
        };
        q = match req.item_name {
            Some(n) => q.filter(
                sync_jobs::item_name
                    .is_null()
                    .or(sync_jobs::item_name.eq(n.to_owned())),
            ),
            None => q.filter(sync_jobs::item_name.is_null()),
        };
        q.first(conn).optional()
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

    /// Whether the running job should stop: someone asked to cancel it, or it is no
    /// longer running (a sweep failed it, or it was deleted).
    pub fn should_stop(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
        let row: Option<(JobStatus, Option<NaiveDateTime>)> = sync_jobs::table
            .find(id)
            .select((sync_jobs::status, sync_jobs::cancel_requested))
            .first(conn)
            .optional()?;
        Ok(!matches!(row, Some((JobStatus::Running, None))))
    }

    /// Whether a cancel was asked for.
    pub fn cancel_was_requested(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
        let at: Option<Option<NaiveDateTime>> = sync_jobs::table
            .find(id)
            .select(sync_jobs::cancel_requested)
            .first(conn)
            .optional()?;
        Ok(matches!(at, Some(Some(_))))
    }

    /// Stores the latest progress of a job (replacing the one before).
    pub fn record_progress(
        conn: &mut DbConn,
        id: i64,
        plugin: &str,
        done: i64,
        total: i64,
        message: &str,
    ) -> QueryResult<usize> {
        let at = now();
        let row = (
            sync_job_progress::job_id.eq(id),
            sync_job_progress::plugin.eq(plugin),
            sync_job_progress::done.eq(done),
            sync_job_progress::total.eq(total),
            sync_job_progress::message.eq(message),
            sync_job_progress::updated.eq(at),
        );
        let q = diesel::insert_into(sync_job_progress::table)
            .values(row)
            .on_conflict(sync_job_progress::job_id)
            .do_update()
            .set((
                sync_job_progress::plugin.eq(plugin),
                sync_job_progress::done.eq(done),
                sync_job_progress::total.eq(total),
                sync_job_progress::message.eq(message),
                sync_job_progress::updated.eq(at),
            ));
        crate::on_backend!(conn, |c| q.execute(c))
    }

    /// The latest progress of a job, if it reported any.
    pub fn progress(conn: &mut DbConn, id: i64) -> QueryResult<Option<JobProgress>> {
        sync_job_progress::table
            .find(id)
            .select(JobProgress::as_select())
            .first(conn)
            .optional()
    }

    /// The latest progress of these jobs, by job id.
    pub fn progress_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, JobProgress)>> {
        sync_job_progress::table
            .filter(sync_job_progress::job_id.eq_any(ids))
            .select((sync_job_progress::job_id, JobProgress::as_select()))
            .load(conn)
    }

    /// The write gate of a running job's plugins, as the first statement of their write
    /// transaction: locks the job's row (PostgreSQL) or the database (SQLite) and says
    /// whether the job still takes writes (running, no cancel asked). A cancel, which
    /// updates the same row, is ordered before or after the write, never in between.
    pub fn takes_writes(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
        let n = diesel::update(
            sync_jobs::table
                .filter(sync_jobs::id.eq(id))
                .filter(sync_jobs::status.eq(JobStatus::Running))
                .filter(sync_jobs::cancel_requested.is_null()),
        )
        .set(sync_jobs::heartbeat.eq(sync_jobs::heartbeat))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Asks the job to stop, for `user_id`. A queued job ends `cancelled` at once; a
    /// running one is flagged, and its worker stops its plugins and ends it. Returns
    /// the job afterwards, and whether this call changed anything (false: it had ended,
    /// or a cancel was already asked).
    pub fn request_cancel(
        conn: &mut DbConn,
        id: i64,
        user_id: Option<i64>,
    ) -> QueryResult<(SyncJob, bool)> {
        let at = now();
        conn.transaction(|conn| {
            let queued = diesel::update(
                sync_jobs::table
                    .filter(sync_jobs::id.eq(id))
                    .filter(sync_jobs::status.eq(JobStatus::Queued)),
            )
            .set((
                sync_jobs::status.eq(JobStatus::Cancelled),
                sync_jobs::finished.eq(at),
                sync_jobs::cancel_requested.eq(at),
                sync_jobs::cancelled_by.eq(user_id),
            ))
            .execute(conn)?;
            let running = diesel::update(
                sync_jobs::table
                    .filter(sync_jobs::id.eq(id))
                    .filter(sync_jobs::status.eq(JobStatus::Running))
                    .filter(sync_jobs::cancel_requested.is_null()),
            )
            .set((
                sync_jobs::cancel_requested.eq(at),
                sync_jobs::cancelled_by.eq(user_id),
            ))
            .execute(conn)?;
            let job = sync_jobs::table
                .find(id)
                .select(SyncJob::as_select())
                .first(conn)?;
            Ok((job, queued + running > 0))
        })
    }

    /// Ends a running job with its plugin outcomes, in one transaction. A job that is no
    /// longer running (failed by a stale-job sweep) keeps its status.
    ///
    /// `cancelled`: the plugins were stopped by a cancel; the job ends `cancelled` with
    /// the outcomes it had.
    pub fn finish(
        conn: &mut DbConn,
        id: i64,
        runs: &[PluginRun],
        error: Option<&str>,
        cancelled: bool,
    ) -> QueryResult<SyncJob> {
        let ok = error.is_none() && runs.iter().all(|r| r.ok);
        let status = if cancelled {
            JobStatus::Cancelled
        } else if ok {
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
            .filter(sync_jobs::status.eq_any(JobStatus::FINISHED))
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
