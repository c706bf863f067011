//! Sync jobs: requests join an active job per scope, workers claim, runs are recorded.

mod common;

use diesel::prelude::*;
use sodarcache::cache::jobs::{request_sync, run_job, sweep_stale};
use sodarcache::db::Scope;
use sodarcache::db::models::JobStatus;
use sodarcache::db::models::{Event, Origin, PluginRun, Project, SyncJob};
use sodarcache::db::schema::sync_jobs;
use sodarcache::db::{DbPool, now};
use sodarcache::plugin::Progress;
use sodarcache::plugins::{PluginRegistry, RegistryBuilder};

use common::fixtures as fx;
use common::plugins::TestPlugin;

fn setup(db: &common::TestDb, plugins: RegistryBuilder) -> (DbPool, PluginRegistry) {
    let pool = db.pool();
    let registry = plugins.build(pool.clone(), &db.settings());
    (pool, registry)
}

fn ok_plugins() -> RegistryBuilder {
    PluginRegistry::builder().project_app(TestPlugin::writes("writer", "written"))
}

backend_test! {
    fn requesting_the_same_scope_twice_joins_the_first_job(db) {
        let (pool, _) = setup(&db, ok_plugins());
        let conn = &mut **pool.get().unwrap();
        let project = fx::project(conn, "P", None, None);
        let user = fx::user(conn, "alice", false);
        let (first, joined) = request_sync(conn, Some(&project), None, Origin::Web, Some(&user)).unwrap();
        assert!(!joined);
        assert_eq!(first.status, JobStatus::Queued);
        assert_eq!(first.origin, Origin::Web);
        assert_eq!(first.user_id, Some(user.id));
        let (second, joined) = request_sync(conn, Some(&project), None, Origin::Api, None).unwrap();
        assert!(joined);
        assert_eq!(second.uuid, first.uuid);
        // Joining a running job works too.
        SyncJob::claim_next(conn, "w1").unwrap().unwrap();
        let (third, joined) = request_sync(conn, Some(&project), None, Origin::Cli, None).unwrap();
        assert!(joined);
        assert_eq!(third.uuid, first.uuid);
        assert_eq!(third.status, JobStatus::Running);
        assert_eq!(SyncJob::list(conn, None, 0, 100).unwrap().len(), 1);
    }
}

backend_test! {
    fn different_scopes_do_not_join(db) {
        let (pool, _) = setup(&db, ok_plugins());
        let conn = &mut **pool.get().unwrap();
        let a = fx::project(conn, "A", None, None);
        let b = fx::project(conn, "B", None, None);
        // Narrow scopes first: a wider request never joins a narrower job (the covering
        // rule is tested in tests/job_control.rs).
        let scopes: [(Option<&Project>, Option<&str>); 5] =
            [(Some(&a), Some("item")), (None, Some("item")), (Some(&a), None), (Some(&b), None), (None, None)];
        let mut uuids = Vec::new();
        for (project, name) in scopes {
            let (job, joined) = request_sync(conn, project, name, Origin::Web, None).unwrap();
            assert!(!joined, "{project:?} {name:?}");
            uuids.push(job.uuid);
        }
        uuids.sort();
        uuids.dedup();
        assert_eq!(uuids.len(), 5);
    }
}

backend_test! {
    fn after_a_job_finishes_a_new_request_creates_a_new_job(db) {
        let (pool, registry) = setup(&db, ok_plugins());
        let mut conn = pool.get().unwrap();
        let project = fx::project(&mut conn, "P", None, None);
        let (first, _) = request_sync(&mut conn, Some(&project), None, Origin::Web, None).unwrap();
        let claimed = SyncJob::claim_next(&mut conn, "w1").unwrap().unwrap();
        assert_eq!(claimed.uuid, first.uuid);
        drop(conn);
        let (finished, _) = run_job(registry.runner(), &claimed, None).unwrap();
        assert_eq!(finished.status, JobStatus::Done);
        let conn = &mut **pool.get().unwrap();
        let (second, joined) = request_sync(conn, Some(&project), None, Origin::Web, None).unwrap();
        assert!(!joined);
        assert_ne!(second.uuid, first.uuid);
        assert_eq!(second.status, JobStatus::Queued);
    }
}

backend_test! {
    fn claim_next_takes_the_oldest_queued_job_once(db) {
        let (pool, _) = setup(&db, ok_plugins());
        let conn = &mut **pool.get().unwrap();
        let a = fx::project(conn, "A", None, None);
        let b = fx::project(conn, "B", None, None);
        let (job_a, _) = request_sync(conn, Some(&a), None, Origin::Web, None).unwrap();
        let (job_b, _) = request_sync(conn, Some(&b), None, Origin::Web, None).unwrap();
        let first = SyncJob::claim_next(conn, "w1").unwrap().unwrap();
        assert_eq!(first.uuid, job_a.uuid);
        assert_eq!(first.status, JobStatus::Running);
        assert_eq!(first.worker.as_deref(), Some("w1"));
        assert!(first.started.is_some() && first.heartbeat.is_some());
        let second = SyncJob::claim_next(conn, "w2").unwrap().unwrap();
        assert_eq!(second.uuid, job_b.uuid);
        assert_eq!(SyncJob::claim_next(conn, "w3").unwrap(), None);
        // A job already claimed cannot be claimed again.
        assert_eq!(SyncJob::claim(conn, job_a.id, "w3").unwrap(), None);
    }
}

backend_test! {
    fn run_job_records_plugin_runs_failure_and_an_event(db) {
        let plugins = PluginRegistry::builder()
            .project_app(TestPlugin::writes("b_writer", "written"))
            .project_app(TestPlugin::fails("a_broken", "source unreachable"));
        let (pool, registry) = setup(&db, plugins);
        let mut conn = pool.get().unwrap();
        let project = fx::project(&mut conn, "P", None, None);
        let user = fx::user(&mut conn, "alice", false);
        request_sync(&mut conn, Some(&project), None, Origin::Api, Some(&user)).unwrap();
        let job = SyncJob::claim_next(&mut conn, "w1").unwrap().unwrap();
        drop(conn);
        let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = reports.clone();
        let observe = std::sync::Arc::new(move |p: &Progress| seen.lock().unwrap().push(p.plugin.clone()));
        let (finished, outcomes) = run_job(registry.runner(), &job, Some(observe)).unwrap();
        assert_eq!(*reports.lock().unwrap(), ["a_broken", "b_writer"], "progress as each plugin starts");
        assert_eq!(finished.status, JobStatus::Failed);
        assert!(finished.finished.is_some());
        assert_eq!(finished.error, None, "plugin errors live in the plugin runs");
        assert_eq!(outcomes.len(), 2);

        let conn = &mut **pool.get().unwrap();
        let runs = SyncJob::plugin_runs(conn, job.id).unwrap();
        let summary: Vec<(&str, bool, i64)> = runs.iter().map(|r| (r.plugin.as_str(), r.ok, r.items_written)).collect();
        assert_eq!(summary, [("a_broken", false, 0), ("b_writer", true, 1)]);
        assert!(runs[0].error.as_deref().unwrap().starts_with("source unreachable"));
        assert_eq!(runs[1].error, None);
        assert!(registry.cache_unchecked().get_cache_item("b_writer", "written", Some(&project)).unwrap().is_some());

        let events = Event::list(conn, Some(Scope::Project(project.id)), 10).unwrap();
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event.event_name, "cache_sync");
        assert_eq!(event.origin, Origin::Api);
        assert_eq!(event.user_id, Some(user.id));
        assert!(!event.ok);
        assert_eq!(
            event.description,
            format!("Cache synchronization for project {} finished with errors in: a_broken", project.log_title())
        );
    }
}

backend_test! {
    fn run_job_with_every_plugin_ok_is_done(db) {
        let (pool, registry) = setup(&db, ok_plugins());
        let mut conn = pool.get().unwrap();
        let a = fx::project(&mut conn, "A", None, None);
        let b = fx::project(&mut conn, "B", None, None);
        request_sync(&mut conn, None, None, Origin::Cli, None).unwrap();
        let job = SyncJob::claim_next(&mut conn, "w1").unwrap().unwrap();
        drop(conn);
        let (finished, outcomes) = run_job(registry.runner(), &job, None).unwrap();
        assert_eq!(finished.status, JobStatus::Done);
        assert_eq!(finished.error, None);
        // Two projects and the site-wide scope.
        assert_eq!(outcomes[0].items_written, 3);
        let conn = &mut **pool.get().unwrap();
        let runs = SyncJob::plugin_runs(conn, job.id).unwrap();
        assert_eq!(runs.len(), 1);
        assert!(runs[0].ok);
        assert_eq!(runs[0].items_written, 3);
        for project in [Some(&a), Some(&b), None] {
            assert!(registry.cache_unchecked().get_cache_item("writer", "written", project).unwrap().is_some());
        }
        let events = Event::list(conn, Some(Scope::Site), 10).unwrap();
        assert_eq!(events.len(), 1);
        assert!(events[0].ok);
        assert_eq!(events[0].origin, Origin::Cli);
        assert_eq!(events[0].description, "Synchronized cache for all projects");
    }
}

backend_test! {
    fn sweep_stale_fails_running_jobs_with_an_old_heartbeat_only(db) {
        let (pool, _) = setup(&db, ok_plugins());
        let conn = &mut **pool.get().unwrap();
        let a = fx::project(conn, "A", None, None);
        let b = fx::project(conn, "B", None, None);
        let c = fx::project(conn, "C", None, None);
        request_sync(conn, Some(&a), None, Origin::Web, None).unwrap();
        request_sync(conn, Some(&b), None, Origin::Web, None).unwrap();
        let (queued, _) = request_sync(conn, Some(&c), None, Origin::Web, None).unwrap();
        let stale = SyncJob::claim_next(conn, "dead").unwrap().unwrap();
        let alive = SyncJob::claim_next(conn, "alive").unwrap().unwrap();
        diesel::update(sync_jobs::table.find(stale.id))
            .set(sync_jobs::heartbeat.eq(now() - chrono::Duration::hours(1)))
            .execute(conn)
            .unwrap();
        assert_eq!(sweep_stale(conn).unwrap(), 1);
        let stale = SyncJob::find_by_id(conn, stale.id).unwrap().unwrap();
        assert_eq!(stale.status, JobStatus::Failed);
        assert!(stale.finished.is_some());
        assert!(stale.error.is_some());
        assert_eq!(SyncJob::find_by_id(conn, alive.id).unwrap().unwrap().status, JobStatus::Running);
        assert_eq!(SyncJob::find_by_id(conn, queued.id).unwrap().unwrap().status, JobStatus::Queued);
        assert_eq!(sweep_stale(conn).unwrap(), 0);
        // The failed job no longer blocks its scope.
        let (fresh, joined) = request_sync(conn, Some(&a), None, Origin::Web, None).unwrap();
        assert!(!joined);
        assert_ne!(fresh.uuid, stale.uuid);
    }
}

backend_test! {
    fn a_job_failed_by_a_stale_sweep_stays_failed_when_its_worker_finishes_late(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let (job, _) = request_sync(conn, None, None, Origin::Cli, None).unwrap();
        let job = SyncJob::claim(conn, job.id, "slow-worker").unwrap().unwrap();
        // Another instance's sweep decides the worker is gone.
        let swept = SyncJob::fail_stale(conn, sodarcache::db::now() + chrono::Duration::seconds(1)).unwrap();
        assert_eq!(swept, 1);
        // The worker was only slow: it finishes afterwards with a successful outcome.
        let run = PluginRun {
            job_id: job.id,
            plugin: "p".into(),
            ok: true,
            error: None,
            items_written: 3,
            started: sodarcache::db::now(),
            finished: sodarcache::db::now(),
        };
        let finished = SyncJob::finish(conn, job.id, &[run], None, false).unwrap();
        assert_eq!(finished.status, JobStatus::Failed, "the sweep's verdict stands");
        let runs = SyncJob::plugin_runs(conn, job.id).unwrap();
        assert_eq!(runs.len(), 1, "the late outcome is still recorded");
        assert_eq!(runs[0].items_written, 3);
    }
}
