//! Scheduled syncs in the database: a superuser's interval per plugin
//! ([`ScheduleOverride`]) and, per plugin and project, when the next scheduled sync is
//! due and which job ran the last one ([`ScheduleRun`]).
//!
//! Claiming a due run is one conditional `UPDATE ... WHERE runs = <read value>`: with
//! several servers on one database, each due run is claimed (and its job queued) by
//! exactly one of them.

use chrono::NaiveDateTime;
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};

use super::{JobStatus, Origin, ProjectType, SyncJob};
use crate::db::schema::{projects, sync_jobs, sync_schedule_runs, sync_schedules};
use crate::db::{DbConn, DbUuid, is_unique_violation};

/// A superuser's interval for one plugin, set on the Schedules page.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = sync_schedules)]
pub struct ScheduleOverride {
    /// Plugin name.
    pub plugin: String,
    /// Seconds between a project's scheduled syncs; none: no scheduled syncs.
    pub interval_seconds: Option<i64>,
    /// When it was set.
    pub updated: NaiveDateTime,
    /// Who set it.
    pub user_id: Option<i64>,
}

impl ScheduleOverride {
    /// Every override, by plugin name.
    pub fn all(conn: &mut DbConn) -> QueryResult<Vec<ScheduleOverride>> {
        sync_schedules::table
            .order(sync_schedules::plugin)
            .select(ScheduleOverride::as_select())
            .load(conn)
    }

    /// Sets `plugin`'s interval (none: off), replacing an earlier override.
    pub fn set(
        conn: &mut DbConn,
        plugin: &str,
        interval_seconds: Option<i64>,
        user_id: Option<i64>,
    ) -> QueryResult<()> {
        let at = crate::db::now();
        let row = (
            sync_schedules::plugin.eq(plugin),
            sync_schedules::interval_seconds.eq(interval_seconds),
            sync_schedules::updated.eq(at),
            sync_schedules::user_id.eq(user_id),
        );
        crate::on_backend!(conn, |c| diesel::insert_into(sync_schedules::table)
            .values(row)
            .on_conflict(sync_schedules::plugin)
            .do_update()
            .set((
                sync_schedules::interval_seconds.eq(interval_seconds),
                sync_schedules::updated.eq(at),
                sync_schedules::user_id.eq(user_id),
            ))
            .execute(c))?;
        Ok(())
    }

    /// Removes `plugin`'s override (back to the setting or the plugin's default).
    /// Returns whether there was one.
    pub fn clear(conn: &mut DbConn, plugin: &str) -> QueryResult<bool> {
        Ok(
            diesel::delete(sync_schedules::table.filter(sync_schedules::plugin.eq(plugin)))
                .execute(conn)?
                > 0,
        )
    }
}

/// When one plugin's next scheduled sync of one project is due.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = sync_schedule_runs)]
pub struct ScheduleRun {
    /// Row id.
    pub id: i64,
    /// Plugin name.
    pub plugin: String,
    /// The project.
    pub project_id: i64,
    /// When the next scheduled sync is due (UTC).
    pub next_run_at: NaiveDateTime,
    /// Scheduled syncs queued so far.
    pub runs: i64,
    /// The job of the last scheduled sync.
    pub last_job_id: Option<i64>,
}

/// One plugin's schedule across projects, for the Schedules page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScheduleSummary {
    /// Projects with a schedule row.
    pub projects: i64,
    /// The earliest next run.
    pub next_run_at: Option<NaiveDateTime>,
    /// Projects whose last scheduled sync failed.
    pub failed: i64,
}

impl ScheduleRun {
    /// Adds a row, due at `due`, for every project `plugin` has none for yet (new
    /// projects, or a plugin just scheduled). Returns how many.
    pub fn add_missing(conn: &mut DbConn, plugin: &str, due: NaiveDateTime) -> QueryResult<usize> {
        let missing = projects::table
            .filter(projects::project_type.eq(ProjectType::Project))
            .filter(not(exists(
                sync_schedule_runs::table
                    .filter(sync_schedule_runs::plugin.eq(plugin))
                    .filter(sync_schedule_runs::project_id.eq(projects::id)),
            )))
            .select((
                plugin.into_sql::<Text>(),
                projects::id,
                due.into_sql::<Timestamp>(),
            ));
        let q = diesel::insert_into(sync_schedule_runs::table)
            .values(missing)
            .into_columns((
                sync_schedule_runs::plugin,
                sync_schedule_runs::project_id,
                sync_schedule_runs::next_run_at,
            ));
        // Another server may add the same rows at the same moment.
        crate::on_backend!(conn, |c| q.on_conflict_do_nothing().execute(c))
    }

    /// Brings `plugin`'s runs due after `latest` forward to `latest` (its interval was
    /// shortened). Returns how many.
    pub fn bring_forward(
        conn: &mut DbConn,
        plugin: &str,
        latest: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            sync_schedule_runs::table
                .filter(sync_schedule_runs::plugin.eq(plugin))
                .filter(sync_schedule_runs::next_run_at.gt(latest)),
        )
        .set(sync_schedule_runs::next_run_at.eq(latest))
        .execute(conn)
    }

    /// Up to `limit` of `plugin`'s runs due at `now`, the longest due first.
    pub fn due(
        conn: &mut DbConn,
        plugin: &str,
        now: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<ScheduleRun>> {
        sync_schedule_runs::table
            .filter(sync_schedule_runs::plugin.eq(plugin))
            .filter(sync_schedule_runs::next_run_at.le(now))
            .order((sync_schedule_runs::next_run_at, sync_schedule_runs::id))
            .limit(limit)
            .select(ScheduleRun::as_select())
            .load(conn)
    }

    /// Claims this due run at `now`: moves it to `next` and counts it, if no other
    /// server did since `self` was read. In the same transaction, queues the scheduled
    /// job (created `now`; or joins the active job covering it) and records it as the
    /// run's job. Returns the job, or none when another server claimed the run first.
    pub fn claim(
        &self,
        conn: &mut DbConn,
        now: NaiveDateTime,
        next: NaiveDateTime,
    ) -> QueryResult<Option<SyncJob>> {
        conn.transaction(|conn| {
            let claimed = diesel::update(
                sync_schedule_runs::table
                    .filter(sync_schedule_runs::id.eq(self.id))
                    .filter(sync_schedule_runs::runs.eq(self.runs)),
            )
            .set((
                sync_schedule_runs::next_run_at.eq(next),
                sync_schedule_runs::runs.eq(self.runs + 1),
            ))
            .execute(conn)?;
            if claimed == 0 {
                return Ok(None);
            }
            let job = SyncJob::queue_for_app(conn, self.project_id, &self.plugin, now)?;
            diesel::update(sync_schedule_runs::table.find(self.id))
                .set(sync_schedule_runs::last_job_id.eq(job.id))
                .execute(conn)?;
            Ok(Some(job))
        })
    }

    /// The rows of these projects for these plugins.
    pub fn for_projects(
        conn: &mut DbConn,
        project_ids: &[i64],
        plugins: &[&str],
    ) -> QueryResult<Vec<ScheduleRun>> {
        sync_schedule_runs::table
            .filter(sync_schedule_runs::project_id.eq_any(project_ids))
            .filter(sync_schedule_runs::plugin.eq_any(plugins))
            .order(sync_schedule_runs::id)
            .select(ScheduleRun::as_select())
            .load(conn)
    }

    /// `plugin`'s rows of one project.
    pub fn find(conn: &mut DbConn, plugin: &str, project_id: i64) -> QueryResult<Option<Self>> {
        sync_schedule_runs::table
            .filter(sync_schedule_runs::plugin.eq(plugin))
            .filter(sync_schedule_runs::project_id.eq(project_id))
            .select(ScheduleRun::as_select())
            .first(conn)
            .optional()
    }

    /// How many projects `plugin` has rows for, the earliest next run, and how many
    /// projects' last scheduled sync failed.
    pub fn summary(conn: &mut DbConn, plugin: &str) -> QueryResult<ScheduleSummary> {
        let (projects, next_run_at): (i64, Option<NaiveDateTime>) = sync_schedule_runs::table
            .filter(sync_schedule_runs::plugin.eq(plugin))
            .select((
                diesel::dsl::count_star(),
                diesel::dsl::min(sync_schedule_runs::next_run_at),
            ))
            .first(conn)?;
        let failed: i64 = sync_schedule_runs::table
            .inner_join(sync_jobs::table)
            .filter(sync_schedule_runs::plugin.eq(plugin))
            .filter(sync_jobs::status.eq(JobStatus::Failed))
            .count()
            .get_result(conn)?;
        Ok(ScheduleSummary {
            projects,
            next_run_at,
            failed,
        })
    }
}

impl SyncJob {
    /// Queues a sync of one app (the plugin owning it) in one project, origin
    /// `scheduled`, or returns the queued or running job that already covers it: one of
    /// the same scope, or of the whole project or site for every app. `created` is
    /// when it was requested.
    pub fn queue_for_app(
        conn: &mut DbConn,
        project_id: i64,
        app: &str,
        created: NaiveDateTime,
    ) -> QueryResult<SyncJob> {
        if let Some(job) = Self::find_covering_app(conn, project_id, app)? {
            return Ok(job);
        }
        let q = diesel::insert_into(sync_jobs::table).values((
            sync_jobs::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
            sync_jobs::project_id.eq(Some(project_id)),
            sync_jobs::app_name.eq(Some(app)),
            sync_jobs::origin.eq(Origin::Scheduled),
            sync_jobs::status.eq(JobStatus::Queued),
            sync_jobs::created.eq(created),
        ));
        // In a transaction on PostgreSQL a failed statement aborts it: a savepoint
        // keeps the claim when another request queued the same scope meanwhile.
        let inserted = conn.transaction(|c| {
            crate::on_backend!(c, |c| q.returning(SyncJob::as_returning()).get_result(c))
        });
        match inserted {
            Ok(job) => Ok(job),
            Err(e) if is_unique_violation(&e) => Self::find_covering_app(conn, project_id, app)?
                .ok_or(diesel::result::Error::RollbackTransaction),
            Err(e) => Err(e),
        }
    }

    /// The queued or running job that syncs `app` in the project: of exactly that
    /// scope, or of the project or the site with every app and item.
    fn find_covering_app(
        conn: &mut DbConn,
        project_id: i64,
        app: &str,
    ) -> QueryResult<Option<SyncJob>> {
        sync_jobs::table
            .filter(sync_jobs::status.eq_any([JobStatus::Queued, JobStatus::Running]))
            .filter(
                sync_jobs::project_id
                    .eq(project_id)
                    .or(sync_jobs::project_id.is_null()),
            )
            .filter(sync_jobs::item_name.is_null())
            .filter(
                sync_jobs::app_name
                    .eq(app)
                    .or(sync_jobs::app_name.is_null()),
            )
            .order(sync_jobs::id)
            .select(SyncJob::as_select())
            .first(conn)
            .optional()
    }

    /// Queued jobs of origin `scheduled` (the scheduler queues no more while there
    /// are enough waiting, so people's requests are not stuck behind them).
    pub fn queued_scheduled(conn: &mut DbConn) -> QueryResult<i64> {
        sync_jobs::table
            .filter(sync_jobs::status.eq(JobStatus::Queued))
            .filter(sync_jobs::origin.eq(Origin::Scheduled))
            .count()
            .get_result(conn)
    }
}
