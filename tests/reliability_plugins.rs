//! Plugins that misbehave and servers that die: a sync job records every plugin's
//! outcome, the good plugins still finish, and no job stays `running` forever.
//!
//! * A plugin that panics, one that errors and one that hangs past
//!   `settings.plugin_timeout`: the worker's job ends `failed` with each outcome.
//! * A job left `running` by a server that was killed is marked failed when the next
//!   server starts (and by a running server once its heartbeat is older than
//!   `settings.job_stale_after`), while a slow job of a live worker is never failed.

mod common;

use std::time::{Duration, Instant};

use diesel::prelude::*;
use sodarcache::cache::jobs::request_sync;
use sodarcache::db::models::JobStatus;
use sodarcache::db::models::{Origin, SyncJob};
use sodarcache::db::schema::sync_jobs;
use sodarcache::db::{DbConn, now};
use sodarcache::plugins::PluginRegistry;

use common::TestApp;
use common::fixtures as fx;
use common::plugins::{Gate, TestPlugin};

/// Polls the job every 50 ms until `done` says so or `limit` passes; returns every
/// status seen on the way and the last row.
fn watch_job(
    conn: &mut DbConn,
    id: i64,
    limit: Duration,
    done: impl Fn(&SyncJob) -> bool,
) -> (Vec<JobStatus>, SyncJob) {
    let deadline = Instant::now() + limit;
    let mut seen: Vec<JobStatus> = Vec::new();
    loop {
        let job = SyncJob::find_by_id(conn, id)
            .expect("read job")
            .expect("job exists");
        if seen.last() != Some(&job.status) {
            seen.push(job.status);
        }
        if done(&job) {
            return (seen, job);
        }
        assert!(
            Instant::now() < deadline,
            "job still {} after {limit:?}: {job:?}",
            job.status
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

backend_test! {
    fn panicking_failing_and_hanging_plugins_are_recorded_and_the_job_ends(db) {
        // The hanging plugin waits for a gate this test opens only at its end, so the
        // job can end only by timing it out. The timeout is seconds long: a panic's
        // backtrace (RUST_BACKTRACE=1) on a loaded machine must never look like a hang.
        let hang = Gate::new();
        let plugins = PluginRegistry::builder()
            .project_app(TestPlugin::panics("a_panics"))
            .project_app(TestPlugin::fails("b_errors", "source unreachable"))
            .project_app(TestPlugin::writes("c_hangs", "slow").gated(&hang))
            .project_app(TestPlugin::writes("d_good", "good"));
        let app = TestApp::spawn(&db, plugins, |s| s.plugin_timeout = Duration::from_secs(5));
        let conn = &mut **app.conn();
        let project = fx::project(conn, "P", None, None);
        let (job, _) = request_sync(conn, Some(&project), None, Origin::Api, None).expect("queue");
        // The gate stays shut for a minute: a job that ends before that was not waiting.
        let (seen, job) = watch_job(conn, job.id, Duration::from_secs(50), SyncJob::is_finished);
        assert_eq!(job.status, JobStatus::Failed, "{seen:?}");
        assert!(job.finished.is_some());
        assert!(job.error.is_none(), "the job itself ran; its plugins failed: {:?}", job.error);
        assert!(job.worker.is_some());

        let runs = SyncJob::plugin_runs(conn, job.id).expect("runs");
        let names: Vec<&str> = runs.iter().map(|r| r.plugin.as_str()).collect();
        assert_eq!(names, ["a_panics", "b_errors", "c_hangs", "d_good"]);
        let error = |i: usize| runs[i].error.clone().unwrap_or_default();
        assert!(!runs[0].ok && error(0).contains("panicked") && error(0).contains("plugin exploded"), "{:?}", runs[0]);
        assert!(!runs[1].ok && error(1).contains("source unreachable"), "{:?}", runs[1]);
        assert!(!runs[2].ok && error(2).contains("timed out after 5 seconds"), "{:?}", runs[2]);
        assert!(runs[3].ok && runs[3].error.is_none() && runs[3].items_written == 1, "{:?}", runs[3]);
        let cache = app.registry.cache().expect("cache");
        assert!(cache.get_cache_item("d_good", "good", Some(&project)).unwrap().is_some());
        // A new request for the scope is a new job: nothing is left active.
        let (again, joined) = request_sync(conn, Some(&project), None, Origin::Api, None).unwrap();
        assert!(!joined);
        assert_ne!(again.uuid, job.uuid);
        hang.open();
    }
}

backend_test! {
    fn a_job_left_running_by_a_killed_server_is_failed_when_the_next_server_starts(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().expect("conn");
        let project = fx::project(conn, "P", None, None);
        let other = fx::project(conn, "Q", None, None);
        // A server claimed two jobs and was killed: one long ago, one just now.
        let (old, _) = request_sync(conn, Some(&project), None, Origin::Web, None).unwrap();
        let (recent, _) = request_sync(conn, Some(&other), None, Origin::Web, None).unwrap();
        let old = SyncJob::claim(conn, old.id, "killed-server").unwrap().expect("claimed");
        let recent = SyncJob::claim(conn, recent.id, "killed-server").unwrap().expect("claimed");
        diesel::update(sync_jobs::table.find(old.id))
            .set(sync_jobs::heartbeat.eq(now() - chrono::Duration::minutes(10)))
            .execute(conn)
            .unwrap();

        // The next start, with a short stale threshold.
        let stale_after = Duration::from_secs(2);
        let started = Instant::now();
        let app = TestApp::spawn(&db, PluginRegistry::builder(), |s| s.job_stale_after = stale_after);
        // The old job is failed by the sweep the worker runs first thing.
        let (_, old) = watch_job(conn, old.id, Duration::from_secs(20), SyncJob::is_finished);
        assert_eq!(old.status, JobStatus::Failed);
        assert!(old.error.as_deref().unwrap_or_default().contains("stopped"), "{:?}", old.error);
        assert!(old.finished.is_some());
        // The recent one once its heartbeat is older than the threshold (checked every
        // third of it), and not before.
        let (seen, recent) = watch_job(conn, recent.id, Duration::from_secs(30), SyncJob::is_finished);
        assert_eq!(seen, [JobStatus::Running, JobStatus::Failed]);
        let heartbeat_age = recent.finished.unwrap() - recent.heartbeat.unwrap();
        assert!(heartbeat_age >= chrono::Duration::from_std(stale_after).unwrap(), "failed after only {heartbeat_age}");
        eprintln!("stale jobs failed within {:?} of the start", started.elapsed());
        // Both scopes are free again.
        for p in [&project, &other] {
            assert!(!request_sync(conn, Some(p), None, Origin::Web, None).unwrap().1);
        }
        drop(app);
    }
}

backend_test! {
    fn a_slow_job_of_a_live_worker_is_never_taken_for_stale(db) {
        // The plugin runs 8 s; jobs go stale after 3 s of silence. The worker beats at a
        // sixth of the threshold (every 0.5 s, seconds of headroom on a loaded machine),
        // so its job stays `running` until it is `done`.
        let plugins = PluginRegistry::builder()
            .project_app(TestPlugin::writes("slow", "slow").after(Duration::from_secs(8)));
        let app = TestApp::spawn(&db, plugins, |s| {
            s.job_stale_after = Duration::from_secs(3);
            s.plugin_timeout = Duration::from_secs(30);
        });
        let conn = &mut **app.conn();
        let project = fx::project(conn, "P", None, None);
        let (job, _) = request_sync(conn, Some(&project), None, Origin::Web, None).unwrap();
        let (seen, job) = watch_job(conn, job.id, Duration::from_secs(40), SyncJob::is_finished);
        let seen: Vec<JobStatus> = seen.into_iter().filter(|s| *s != JobStatus::Queued).collect();
        assert_eq!(seen, [JobStatus::Running, JobStatus::Done], "{job:?}");
        assert!(job.error.is_none());
        let runs = SyncJob::plugin_runs(conn, job.id).unwrap();
        assert!(runs.len() == 1 && runs[0].ok && runs[0].items_written == 1, "{runs:?}");
    }
}

#[test]
fn the_stale_threshold_is_configurable_and_validated() {
    use sodarcache::settings::Settings;
    let with = |v: Option<&str>| {
        Settings::from_lookup(None, |k| {
            (k == "SODARCACHE_JOB_STALE_SECONDS")
                .then(|| v.map(str::to_owned))
                .flatten()
        })
    };
    assert_eq!(with(None).unwrap().job_stale_after, Duration::from_secs(30));
    assert_eq!(
        with(Some("2")).unwrap().job_stale_after,
        Duration::from_secs(2)
    );
    assert_eq!(
        with(Some("1.5")).unwrap().job_stale_after,
        Duration::from_millis(1500)
    );
    for bad in ["0", "0.5", "-3", "soon", "NaN"] {
        let e = with(Some(bad))
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert!(e.starts_with("SODARCACHE_JOB_STALE_SECONDS: "), "{e}");
    }
    // A live job beats well within the threshold.
    use sodarcache::cache::jobs::{HEARTBEAT, heartbeat_for};
    assert_eq!(heartbeat_for(Duration::from_secs(30)), HEARTBEAT);
    assert_eq!(
        heartbeat_for(Duration::from_secs(3)),
        Duration::from_millis(500)
    );
}
