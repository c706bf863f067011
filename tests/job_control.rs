//! Sync jobs under control, on both backends: progress is stored while a job runs, a
//! cancel (queued or running) ends the job `cancelled` with the outcomes it had and
//! refuses every later write, a plugin past its timeout writes nothing more, targeted
//! jobs run one plugin, and a request joins a queued or running job that covers it.

mod common;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sodarcache::Error;
use sodarcache::cache::jobs::{cancel_job, request_app_sync, request_sync, run_job};
use sodarcache::db::models::{Event, JobStatus, Origin, Project, SyncJob};
use sodarcache::db::{DbConn, DbPool};
use sodarcache::plugin::prelude::*;
use sodarcache::plugins::RegistryBuilder;

use common::fixtures as fx;
use common::plugins::{FnPlugin, Gate, TestPlugin};

fn setup(db: &common::TestDb, plugins: RegistryBuilder) -> (DbPool, PluginRegistry) {
    let pool = db.pool();
    let registry = plugins.build(pool.clone(), &db.settings());
    (pool, registry)
}

fn has_item(registry: &PluginRegistry, app: &str, name: &str, project: &Project) -> bool {
    registry
        .cache_unchecked()
        .get_cache_item(app, name, Some(project))
        .unwrap()
        .is_some()
}

/// Polls `check` every 20 ms for up to 30 s (the machine is loaded; the events these
/// tests wait for happen within about a second).
fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Claims the job and runs it on a thread of its own.
fn run_in_background(
    pool: &DbPool,
    registry: &PluginRegistry,
    job: &SyncJob,
) -> std::thread::JoinHandle<SyncJob> {
    let claimed = SyncJob::claim(&mut pool.get().unwrap(), job.id, "w1")
        .unwrap()
        .expect("claimed");
    let runner = registry.runner().clone();
    std::thread::spawn(move || run_job(&runner, &claimed, None).unwrap().0)
}

backend_test! {
    fn a_cancelled_job_ends_cancelled_with_its_outcomes_and_nothing_is_written_after_the_cancel(db) {
        let gate = Gate::new();
        let (ready_tx, ready_rx) = mpsc::sync_channel::<()>(1);
        let late: Arc<Mutex<Option<std::result::Result<(), PluginError>>>> = Arc::default();
        let (g, l) = (gate.clone(), late.clone());
        let ready = Mutex::new(ready_tx);
        let slow = FnPlugin::new("b_slow", &[]).on_project(move |ctx, _| {
            ctx.set("before", &json!(1))?;
            ctx.progress(1, 2, "first half");
            let _ = ready.lock().unwrap().send(());
            // The test cancels the job now, then opens the gate: this write comes
            // after the cancel, whether or not the runner has noticed it yet.
            g.wait();
            let r = ctx.set("after", &json!(2));
            *l.lock().unwrap() = Some(r.clone());
            r?;
            Ok(())
        });
        let (pool, registry) = setup(&db, PluginRegistry::builder()
            .project_app(TestPlugin::writes("a_first", "done"))
            .project_app(slow)
            .project_app(TestPlugin::writes("c_later", "never")));
        let (project, owner) = {
            let conn = &mut *pool.get().unwrap();
            (fx::project(conn, "P", None, None), fx::user(conn, "owner", false))
        };
        let (job, _) = request_sync(&mut pool.get().unwrap(), Some(&project), None, Origin::Web, None).unwrap();
        let running = run_in_background(&pool, &registry, &job);
        ready_rx.recv_timeout(Duration::from_secs(60)).expect("the slow plugin started");
        let (after, changed) = cancel_job(&mut pool.get().unwrap(), &job, Some(&owner)).unwrap();
        assert!(changed);
        assert_eq!(after.status, JobStatus::Running, "a running job ends when its worker stops it");
        assert!(after.cancel_requested.is_some());
        assert_eq!(after.cancelled_by, Some(owner.id));
        gate.open();
        let finished = running.join().unwrap();

        assert_eq!(finished.status, JobStatus::Cancelled);
        assert!(finished.finished.is_some());
        let refused = late.lock().unwrap().clone().expect("the late write was tried");
        assert_eq!(refused, Err(PluginError::Cancelled));
        assert!(has_item(&registry, "a_first", "done", &project));
        assert!(has_item(&registry, "b_slow", "before", &project));
        assert!(!has_item(&registry, "b_slow", "after", &project), "nothing written after the cancel");
        assert!(!has_item(&registry, "c_later", "never", &project), "no plugin starts after the cancel");
        let conn = &mut *pool.get().unwrap();
        let runs = SyncJob::plugin_runs(conn, job.id).unwrap();
        let names: Vec<&str> = runs.iter().map(|r| r.plugin.as_str()).collect();
        assert_eq!(names, ["a_first", "b_slow"], "the outcomes it had");
        assert!(runs[0].ok && runs[0].items_written == 1, "{runs:?}");
        assert!(!runs[1].ok && runs[1].error.as_deref() == Some("cancelled"), "{runs:?}");
        assert_eq!(runs[1].items_written, 1);
        let progress = SyncJob::progress(conn, job.id).unwrap().expect("progress kept");
        assert_eq!((progress.plugin.as_str(), progress.done, progress.total), ("b_slow", 1, 2));
        let events = Event::list(conn, Some(sodarcache::db::Scope::Project(project.id)), 10).unwrap();
        assert!(events[0].description.contains("was cancelled"), "{:?}", events[0]);
        assert_eq!(events[0].user_id, Some(owner.id), "the entry names who cancelled");
    }
}

backend_test! {
    fn cancelling_a_queued_job_ends_it_at_once_and_no_worker_runs_it(db) {
        let (pool, _registry) = setup(&db, PluginRegistry::builder().project_app(TestPlugin::writes("w", "x")));
        let conn = &mut *pool.get().unwrap();
        let project = fx::project(conn, "P", None, None);
        let (job, _) = request_sync(conn, Some(&project), None, Origin::Api, None).unwrap();
        let (after, changed) = cancel_job(conn, &job, None).unwrap();
        assert!(changed);
        assert_eq!(after.status, JobStatus::Cancelled);
        assert!(after.finished.is_some() && after.started.is_none());
        assert!(SyncJob::claim_next(conn, "w1").unwrap().is_none());
        // A second cancel changes nothing; a new request is a new job.
        assert!(!cancel_job(conn, &after, None).unwrap().1);
        let (again, joined) = request_sync(conn, Some(&project), None, Origin::Api, None).unwrap();
        assert!(!joined);
        assert_ne!(again.uuid, job.uuid);
    }
}

backend_test! {
    fn progress_is_stored_while_the_job_runs(db) {
        let gate = Gate::new();
        let g = gate.clone();
        let plugin = FnPlugin::new("reporter", &[]).on_project(move |ctx, _| {
            ctx.progress(3, 10, "assay 3");
            g.wait();
            ctx.progress(10, 10, "all assays");
            Ok(())
        });
        let (pool, registry) = setup(&db, PluginRegistry::builder().project_app(plugin));
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let (job, _) = request_sync(&mut pool.get().unwrap(), Some(&project), None, Origin::Api, None).unwrap();
        let running = run_in_background(&pool, &registry, &job);
        let seen = wait_until("stored progress", || {
            SyncJob::progress(&mut pool.get().unwrap(), job.id).unwrap()
        });
        assert_eq!((seen.plugin.as_str(), seen.done, seen.total, seen.message.as_str()), ("reporter", 3, 10, "assay 3"));
        gate.open();
        let finished = running.join().unwrap();
        assert_eq!(finished.status, JobStatus::Done);
        let last = SyncJob::progress(&mut pool.get().unwrap(), job.id).unwrap().unwrap();
        assert_eq!((last.done, last.message.as_str()), (10, "all assays"), "the last report is kept");
    }
}

backend_test! {
    fn a_plugin_past_its_timeout_is_refused_every_later_write(db) {
        let gate = Gate::new();
        let (tx, rx) = mpsc::sync_channel::<std::result::Result<(), PluginError>>(1);
        let (g, tx) = (gate.clone(), Mutex::new(tx));
        let plugin = FnPlugin::new("late", &[]).on_project(move |ctx, _| {
            g.wait();
            assert!(ctx.is_cancelled(), "the context reports the timeout");
            let r = ctx.set("too_late", &json!(true));
            let _ = tx.lock().unwrap().send(r.clone());
            r?;
            Ok(())
        });
        let pool = db.pool();
        let mut settings = db.settings();
        settings.plugin_timeout = Duration::from_secs(3);
        let registry = PluginRegistry::builder().project_app(plugin).build(pool.clone(), &settings);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let (job, _) = request_sync(&mut pool.get().unwrap(), Some(&project), None, Origin::Api, None).unwrap();
        let finished = run_in_background(&pool, &registry, &job).join().unwrap();
        assert_eq!(finished.status, JobStatus::Failed, "a timeout is a failure, not a cancel");
        gate.open();
        let refused = rx.recv_timeout(Duration::from_secs(60)).expect("the late write was tried");
        assert_eq!(refused, Err(PluginError::Cancelled));
        assert!(!has_item(&registry, "late", "too_late", &project));
    }
}

backend_test! {
    fn a_job_for_one_app_runs_only_the_plugin_owning_it(db) {
        let seen: Arc<Mutex<Vec<(bool, bool)>>> = Arc::default();
        let s = seen.clone();
        let sheets = FnPlugin::new("sheets", &["sheets.assay", "sheets.study"]).on_project(move |ctx, _| {
            s.lock().unwrap().push((ctx.wants_app("sheets.assay"), ctx.wants_app("sheets.study")));
            if ctx.wants_app("sheets.assay") {
                ctx.sub_app("sheets.assay")?.set("irods/rows/a", &json!([1]))?;
            }
            Ok(())
        });
        let (pool, registry) = setup(&db, PluginRegistry::builder()
            .project_app(sheets)
            .project_app(TestPlugin::writes("other", "x")));
        let cache = registry.cache_unchecked().clone();
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let conn = &mut *pool.get().unwrap();
        let (job, _) = request_app_sync(conn, &cache, Some(&project), Some("sheets.assay"), None, Origin::Cli, None).unwrap();
        assert_eq!(job.app_name.as_deref(), Some("sheets.assay"));
        let claimed = SyncJob::claim(conn, job.id, "w1").unwrap().unwrap();
        let (finished, outcomes) = run_job(registry.runner(), &claimed, None).unwrap();
        assert_eq!(finished.status, JobStatus::Done);
        let names: Vec<&str> = outcomes.iter().map(|o| o.plugin.as_str()).collect();
        assert_eq!(names, ["sheets"]);
        assert_eq!(*seen.lock().unwrap(), [(true, false)], "the sub-app filter reaches the plugin");
        assert!(has_item(&registry, "sheets.assay", "irods/rows/a", &project));
        assert!(!has_item(&registry, "other", "x", &project));

        let err = request_app_sync(conn, &cache, Some(&project), Some("nope"), None, Origin::Cli, None).unwrap_err();
        assert!(matches!(&err, Error::BadRequest(m) if m.starts_with("Unknown app name \"nope\"")), "{err:?}");
        let err = request_app_sync(conn, &cache, Some(&project), Some("sodarcache"), None, Origin::Cli, None).unwrap_err();
        assert!(matches!(&err, Error::BadRequest(m) if m.contains("No plugin syncs the app \"sodarcache\"")), "{err:?}");
        let err = request_app_sync(conn, &cache, Some(&project), None, Some(""), Origin::Cli, None).unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
    }
}

/// Requests a job and returns its UUID and whether it joined another.
fn ask(
    conn: &mut DbConn,
    registry: &PluginRegistry,
    project: Option<&Project>,
    app: Option<&str>,
    name: Option<&str>,
) -> (uuid::Uuid, bool) {
    let (job, joined) = request_app_sync(
        conn,
        registry.cache_unchecked(),
        project,
        app,
        name,
        Origin::Web,
        None,
    )
    .unwrap();
    (job.uuid.0, joined)
}

backend_test! {
    fn a_request_joins_a_queued_or_running_job_that_covers_it_and_never_a_narrower_one(db) {
        let (pool, registry) = setup(&db, PluginRegistry::builder()
            .project_app(FnPlugin::new("sheets", &["sheets.assay"]))
            .project_app(TestPlugin::noop("other")));
        let conn = &mut *pool.get().unwrap();
        let a = fx::project(conn, "A", None, None);
        let b = fx::project(conn, "B", None, None);

        // Narrow first: every wider request is a job of its own.
        let (item_a, _) = ask(conn, &registry, Some(&a), Some("sheets.assay"), Some("rows"));
        let (assay_a, j) = ask(conn, &registry, Some(&a), Some("sheets.assay"), None);
        assert!(!j && assay_a != item_a, "one app, all items is wider than one item");
        let (sheets_a, j) = ask(conn, &registry, Some(&a), Some("sheets"), None);
        assert!(!j && sheets_a != assay_a, "a plugin is wider than its sub-app");
        let (all_a, j) = ask(conn, &registry, Some(&a), None, None);
        assert!(!j && all_a != sheets_a, "every plugin is wider than one");
        let (site_sheets, j) = ask(conn, &registry, None, Some("sheets"), None);
        assert!(!j && site_sheets != sheets_a, "the site is wider than a project");

        // Covered requests join: the same scope, or a narrower one.
        assert_eq!(ask(conn, &registry, Some(&a), None, None), (all_a, true));
        assert_eq!(ask(conn, &registry, Some(&a), Some("sheets.assay"), Some("rows")), (item_a, true), "the oldest covering job");
        assert_eq!(ask(conn, &registry, Some(&b), Some("sheets.assay"), Some("x")), (site_sheets, true), "a site job covers every project; a plugin its sub-apps");
        let (other_b, j) = ask(conn, &registry, Some(&b), Some("other"), None);
        assert!(!j && other_b != site_sheets, "a job for one plugin does not cover another");

        // A running job covers too; a finished one does not.
        let running = SyncJob::find_by_uuid(conn, all_a).unwrap().unwrap();
        SyncJob::claim(conn, running.id, "w1").unwrap().expect("claimed");
        assert_eq!(ask(conn, &registry, Some(&a), Some("other"), Some("n")), (all_a, true));
        SyncJob::finish(conn, running.id, &[], None, false).unwrap();
        let (fresh, j) = ask(conn, &registry, Some(&a), Some("other"), Some("n"));
        assert!(!j && fresh != all_a);
    }
}

backend_test! {
    fn a_requested_sync_is_polled_awaited_with_a_time_limit_and_run_here(db) {
        let gate = Gate::new();
        let g = gate.clone();
        let plugin = FnPlugin::new("sheets", &["sheets.assay"]).on_project(move |ctx, _| {
            ctx.progress(1, 2, "half");
            g.wait();
            ctx.sub_app("sheets.assay")?.set("rows", &json!(1))?;
            Ok(())
        });
        let (pool, registry) = setup(&db, PluginRegistry::builder()
            .project_app(plugin)
            .project_app(TestPlugin::writes("other", "x")));
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let request = SyncRequest::project(project.uuid.0).app("sheets.assay");
        let handle = registry.request_sync(&request).unwrap();
        assert!(!handle.joined());
        assert_eq!(handle.poll().unwrap().status, JobStatus::Queued);
        let again = registry.request_sync(&request).unwrap();
        assert!(again.joined() && again.uuid() == handle.uuid());
        // No server runs it here: the time limit passes and the job waits on.
        assert_eq!(handle.wait(Duration::from_secs(1)).unwrap(), None);

        let here = handle.clone();
        let running = std::thread::spawn(move || here.run_here().unwrap());
        wait_until("progress", || handle.poll().unwrap().progress.filter(|p| p.done == 1));
        assert_eq!(handle.poll().unwrap().status, JobStatus::Running);
        gate.open();
        let state = handle.wait(Duration::from_secs(60)).unwrap().expect("ended within a minute");
        assert_eq!(state.status, JobStatus::Done);
        assert_eq!(state.plugins.len(), 1);
        assert_eq!((state.plugins[0].plugin.as_str(), state.plugins[0].items_written), ("sheets", 1));
        assert_eq!(running.join().unwrap(), state);
        assert!(has_item(&registry, "sheets.assay", "rows", &project));
        assert!(!has_item(&registry, "other", "x", &project));
        let missing = registry.request_sync(&SyncRequest::project(uuid::Uuid::new_v4())).unwrap_err();
        assert!(matches!(missing, Error::NotFound(_)), "{missing:?}");
    }
}
