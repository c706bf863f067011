//! `synccache` from cron keeps working beside a server that runs scheduled syncs on the
//! same database: the real binary twice, one `serve` with a short schedule and
//! `synccache` runs (whole site, one project, one project's plugin) while it works.
//! Every run succeeds, no two jobs of the same scope are active at once, and each
//! schedule's next run stays one interval ahead. Both backends.
//!
//! Waits poll the database with deadlines of tens of seconds.

mod common;
#[path = "common/process.rs"]
mod process;

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use sodarcache::db::DbConn;
use sodarcache::db::models::{JobStatus, Origin, Project, ScheduleRun, SyncJob};
use sodarcache::db::schema::sync_schedule_runs;

use common::fixtures as fx;
use process::ServerProcess;

const PLUGIN: &str = "example_project_app";
/// The schedule's interval, in seconds.
const INTERVAL: i64 = 2;

fn exe() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_sodarcache"))
}

/// Runs `sodarcache synccache ARGS` against `url`; returns the exit code and stderr.
fn synccache(url: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(exe())
        .arg("synccache")
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "info")
        .env_remove("SODARCACHE_ENABLED_BACKEND_PLUGINS")
        .env_remove("SODARCACHE_SYNC_SCHEDULE")
        .output()
        .expect("run synccache");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn all_jobs(conn: &mut DbConn) -> Vec<SyncJob> {
    let mut jobs = SyncJob::list(conn, None, 0, 100_000).unwrap();
    jobs.reverse();
    jobs
}

/// Polls until `check` holds, for at most 60 seconds.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Finished scheduled jobs of `project` that started after `after`.
fn scheduled_done_after(jobs: &[SyncJob], project: &Project, after: NaiveDateTime) -> usize {
    jobs.iter()
        .filter(|j| j.origin == Origin::Scheduled && j.project_id == Some(project.id))
        .filter(|j| j.status == JobStatus::Done && j.started.is_some_and(|s| s > after))
        .count()
}

backend_test! {
    fn synccache_from_cron_and_the_scheduler_share_a_database_without_duplicate_jobs(db) {
        let pool = db.pool();
        let projects: Vec<Project> = {
            let conn = &mut **pool.get().unwrap();
            ["Alpha", "Beta", "Gamma"].iter().map(|t| fx::project(conn, t, None, None)).collect()
        };
        let dir = tempfile::tempdir().unwrap();
        let schedule = format!("{PLUGIN}={INTERVAL}s");
        let server = ServerProcess::start(
            exe(),
            dir.path(),
            &[],
            &[
                ("DATABASE_URL", db.url.as_str()),
                ("SODARCACHE_SYNC_SCHEDULE", schedule.as_str()),
                ("SODARCACHE_WORKER_POLL_MS", "200"),
            ],
        );
        // The scheduler is at work: every project had a scheduled sync.
        wait_for("the first scheduled syncs", || {
            let jobs = all_jobs(&mut pool.get().unwrap());
            projects.iter().all(|p| scheduled_done_after(&jobs, p, NaiveDateTime::MIN) > 0)
        });

        // Cron, meanwhile: the whole site twice, one project, one project's plugin (the
        // scope of a scheduled job: it joins one that is active, or runs its own).
        let uuid = projects[1].uuid.to_string();
        let runs: [&[&str]; 4] = [&[], &["-p", &uuid], &["-p", &uuid, "-a", PLUGIN], &[]];
        for args in runs {
            let (code, stderr) = synccache(&db.url, args);
            assert_eq!(code, 0, "synccache {args:?}:\n{stderr}");
            assert!(stderr.contains("Cache synchronization OK"), "synccache {args:?}:\n{stderr}");
        }
        let cron_done = sodarcache::db::now();

        // The scheduler keeps going after cron's runs.
        wait_for("scheduled syncs after the cron runs", || {
            let jobs = all_jobs(&mut pool.get().unwrap());
            projects.iter().all(|p| scheduled_done_after(&jobs, p, cron_done) > 0)
        });
        let stopped = sodarcache::db::now();
        drop(server);

        let conn = &mut **pool.get().unwrap();
        let jobs = all_jobs(conn);
        let cli: Vec<&SyncJob> = jobs.iter().filter(|j| j.origin == Origin::Cli).collect();
        // The run for a scheduled job's scope may have joined it; the others are their own.
        assert!((3..=4).contains(&cli.len()), "cli jobs: {cli:#?}");
        assert!(cli.iter().all(|j| j.status == JobStatus::Done), "{cli:#?}");
        let failed: Vec<&SyncJob> = jobs.iter().filter(|j| j.status == JobStatus::Failed).collect();
        assert!(failed.is_empty(), "no job failed: {failed:#?}");

        // No two jobs of one scope were active at the same time: each ran after the
        // previous one of its scope had finished (the server was killed, so the last
        // of a scope may not have).
        let mut scopes: std::collections::BTreeMap<_, Vec<&SyncJob>> = Default::default();
        for j in &jobs {
            scopes
                .entry((j.project_id, j.app_name.clone(), j.item_name.clone()))
                .or_default()
                .push(j);
        }
        for (scope, list) in &scopes {
            for pair in list.windows(2) {
                let (earlier, later) = (pair[0], pair[1]);
                let ended = earlier.finished.unwrap_or_else(|| {
                    panic!("{scope:?}: job {} unfinished while {} was queued", earlier.id, later.id)
                });
                assert!(
                    later.created >= ended,
                    "{scope:?}: job {} was queued at {} while job {} was active until {ended}",
                    later.id, later.created, earlier.id
                );
            }
        }

        // Each project's schedule is one interval ahead of its last claim, at most.
        let rows: Vec<ScheduleRun> = sync_schedule_runs::table
            .select(ScheduleRun::as_select())
            .load(conn)
            .unwrap();
        assert_eq!(rows.len(), projects.len(), "{rows:#?}");
        let interval = chrono::Duration::seconds(INTERVAL);
        for row in &rows {
            assert_eq!(row.plugin, PLUGIN);
            assert!(row.runs >= 2, "{row:?}");
            assert!(
                row.next_run_at <= stopped + interval,
                "next run more than an interval ahead: {row:?}, stopped {stopped}"
            );
            assert!(
                row.next_run_at > cron_done,
                "the schedule kept moving after cron's runs: {row:?}"
            );
            let last = jobs
                .iter()
                .find(|j| Some(j.id) == row.last_job_id)
                .unwrap_or_else(|| panic!("{row:?}: its last job exists"));
            // Its own scheduled job, or a job it joined that covers the project and plugin.
            assert!(
                last.project_id.is_none_or(|p| p == row.project_id)
                    && last.app_name.as_deref().is_none_or(|a| a == PLUGIN),
                "{row:?}: {last:?}"
            );
        }
    }
}
