//! Several server instances on one database, the way a site scales past one machine.
//!
//! * Two servers on one PostgreSQL database (PostgreSQL only): a sync requested through
//!   one is run exactly once, its outcome is visible through both, and a user logged
//!   in on one is logged in on the other (signed cookies with a shared key).
//! * Two servers' workers polling many queued jobs: each job is run exactly once.
//! * Two servers scheduling one plugin's syncs on one PostgreSQL database: each due
//!   scheduled run is queued and run exactly once per project.
//! * Workers racing to claim (both backends): each job is claimed by exactly one.

mod common;
#[path = "reliability/mod.rs"]
mod reliability;
#[path = "common/web.rs"]
mod web;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sodarcache::cache::jobs::request_sync;
use sodarcache::db::models::JobStatus;
use sodarcache::db::models::{Origin, Project, SyncJob};
use sodarcache::plugin::prelude::*;
use sodarcache::plugins::RegistryBuilder;

use common::fixtures as fx;
use common::{TestApp, TestDb};
use reliability::World;

/// Calls of [`Counting::update_cache`] across both servers of this process, per
/// project id (tests using it run one at a time: see [`SERIAL`]).
static CALLS: Mutex<BTreeMap<uuid::Uuid, usize>> = Mutex::new(BTreeMap::new());
static TOTAL: AtomicUsize = AtomicUsize::new(0);
/// The tests that count calls must not run at the same time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Counts its calls, takes a while, writes one item.
struct Counting;

impl ProjectAppPlugin for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn title(&self) -> &'static str {
        "Counting plugin"
    }

    fn sync_project(&self, ctx: &SyncContext, project: &ProjectView) -> SyncResult {
        TOTAL.fetch_add(1, Ordering::SeqCst);
        *CALLS.lock().unwrap().entry(project.uuid).or_default() += 1;
        std::thread::sleep(Duration::from_millis(300));
        ctx.set("count", &json!({ "ran": true }))?;
        Ok(())
    }
}

fn plugins() -> RegistryBuilder {
    PluginRegistry::builder().project_app(Counting)
}

fn reset_counts() {
    CALLS.lock().unwrap().clear();
    TOTAL.store(0, Ordering::SeqCst);
}

/// The status shown on a job page.
fn job_status(html: &str) -> String {
    let at = html
        .find("id=\"job-status\">")
        .expect("job status on the page")
        + "id=\"job-status\">".len();
    html[at..at + html[at..].find('<').expect("status end")]
        .trim()
        .to_owned()
}

#[test]
fn two_servers_on_one_postgres_run_a_sync_once_and_share_sessions() {
    let Some(db) = TestDb::postgres() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    reset_counts();
    let world = World::create(&mut db.pool().get().expect("conn"));
    // Same database, same secret key (TestDb::settings), two processes' worth of state.
    let a = TestApp::spawn(&db, plugins(), |_| {});
    let b = TestApp::spawn(&db, plugins(), |_| {});
    assert_ne!(a.addr, b.addr);

    web::run(async {
        // Logged in on A...
        let browser = web::logged_in(&a, &world.owner.username).await;
        // ...is logged in on B: the same cookie (cookies are per host, not per port)
        // opens B's pages; a browser without it is sent to B's login page.
        let (status, _) = web::get(&browser, &b, "/cache/").await;
        assert_eq!(status, StatusCode::OK, "A's session cookie is valid on B");
        let (status, _) = web::get(&web::client(), &b, "/cache/").await;
        assert_eq!(status, StatusCode::SEE_OTHER, "no cookie, no session on B");

        // A sync requested through A (with a CSRF token from A's page)...
        let path = format!("/cache/project/{}/sync", world.project.uuid);
        let resp = web::post_csrf(&browser, &a, &path, &[]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let job_page = web::location(&resp);
        assert!(job_page.starts_with("/cache/jobs/"), "{job_page}");
        // ...shows its progress and outcome through B.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let status = job_status(&web::page(&browser, &b, &job_page).await);
            if seen.last() != Some(&status) {
                seen.push(status.clone());
            }
            if status == "done" || status == "failed" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "job still {status} on B: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(seen.last().map(String::as_str), Some("done"), "{seen:?}");
        assert_eq!(
            job_status(&web::page(&browser, &a, &job_page).await),
            "done",
            "and on A"
        );

        // A second request through B while nothing is active starts a new job, run once.
        let resp = web::post_csrf(&browser, &b, &path, &[]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_ne!(web::location(&resp), job_page);
    });

    // Wait for the second job, then count.
    let conn = &mut *a.conn();
    let deadline = Instant::now() + Duration::from_secs(10);
    let jobs = loop {
        let jobs = SyncJob::list(conn, None, 0, 100).unwrap();
        if jobs.iter().all(SyncJob::is_finished) {
            break jobs;
        }
        assert!(Instant::now() < deadline, "{jobs:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(jobs.len(), 2, "one job per request: {jobs:?}");
    assert_eq!(
        TOTAL.load(Ordering::SeqCst),
        2,
        "the plugin ran once per job"
    );
    for job in &jobs {
        assert_eq!(job.status, JobStatus::Done);
        assert!(job.worker.is_some());
        assert_eq!(
            SyncJob::plugin_runs(conn, job.id).unwrap().len(),
            1,
            "one outcome per plugin"
        );
    }
    eprintln!(
        "workers: {:?}",
        jobs.iter()
            .map(|j| j.worker.clone().unwrap())
            .collect::<Vec<_>>()
    );
}

#[test]
fn two_servers_polling_one_postgres_run_each_queued_job_once() {
    let Some(db) = TestDb::postgres() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    reset_counts();
    const JOBS: usize = 12;
    let conn = &mut **db.pool().get().expect("conn");
    let projects: Vec<Project> = (0..JOBS)
        .map(|i| fx::project(conn, &format!("P{i}"), None, None))
        .collect();
    // Both servers start against a queue that is already full.
    let mut ids = Vec::new();
    for p in &projects {
        ids.push(
            request_sync(conn, Some(p), None, Origin::Api, None)
                .unwrap()
                .0
                .id,
        );
    }
    let a = TestApp::spawn(&db, plugins(), |_| {});
    let b = TestApp::spawn(&db, plugins(), |_| {});
    let deadline = Instant::now() + Duration::from_secs(15);
    let jobs = loop {
        let jobs: Vec<SyncJob> = ids
            .iter()
            .map(|&id| SyncJob::find_by_id(conn, id).unwrap().unwrap())
            .collect();
        if jobs.iter().all(SyncJob::is_finished) {
            break jobs;
        }
        assert!(Instant::now() < deadline, "jobs did not finish: {jobs:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let calls = CALLS.lock().unwrap().clone();
    for p in &projects {
        assert_eq!(
            calls.get(&p.uuid.0),
            Some(&1),
            "project {} synced once: {calls:?}",
            p.title
        );
    }
    assert_eq!(TOTAL.load(Ordering::SeqCst), JOBS);
    let mut workers = BTreeSet::new();
    for job in &jobs {
        assert_eq!(job.status, JobStatus::Done);
        workers.insert(job.worker.clone().expect("claimed"));
        assert_eq!(SyncJob::plugin_runs(conn, job.id).unwrap().len(), 1);
    }
    eprintln!("{JOBS} jobs run by {} workers", workers.len());
    drop((a, b));
}

#[test]
fn two_servers_on_one_postgres_run_each_scheduled_sync_once() {
    let Some(db) = TestDb::postgres() else { return };
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    reset_counts();
    const PROJECTS: usize = 12;
    let conn = &mut **db.pool().get().expect("conn");
    let projects: Vec<Project> = (0..PROJECTS)
        .map(|i| fx::project(conn, &format!("P{i}"), None, None))
        .collect();
    // Both servers schedule `counting` hourly: every project is due at once.
    let hourly = |s: &mut sodarcache::settings::Settings| {
        s.sync_schedule = vec![("counting".into(), Some(Duration::from_secs(3600)))];
    };
    let a = TestApp::spawn(&db, plugins(), hourly);
    let b = TestApp::spawn(&db, plugins(), hourly);
    let scheduled = |conn: &mut sodarcache::db::DbConn| -> Vec<SyncJob> {
        SyncJob::list(conn, None, 0, 1000)
            .unwrap()
            .into_iter()
            .filter(|j| j.origin == Origin::Scheduled)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let jobs = scheduled(conn);
        if jobs.len() >= PROJECTS && jobs.iter().all(SyncJob::is_finished) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scheduled syncs did not finish: {jobs:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Both schedulers keep looking (every 100 ms here): nothing is queued twice.
    std::thread::sleep(Duration::from_secs(3));
    let jobs = scheduled(conn);
    assert_eq!(
        jobs.len(),
        PROJECTS,
        "one scheduled job per project: {jobs:?}"
    );
    let calls = CALLS.lock().unwrap().clone();
    let mut workers = BTreeSet::new();
    for p in &projects {
        assert_eq!(
            calls.get(&p.uuid.0),
            Some(&1),
            "{} synced once: {calls:?}",
            p.title
        );
        let job = jobs
            .iter()
            .find(|j| j.project_id == Some(p.id))
            .expect("its job");
        assert_eq!(job.status, JobStatus::Done);
        assert_eq!(job.app_name.as_deref(), Some("counting"));
        workers.insert(job.worker.clone().expect("claimed"));
        let run = sodarcache::db::models::ScheduleRun::find(conn, "counting", p.id)
            .unwrap()
            .expect("schedule row");
        assert_eq!((run.runs, run.last_job_id), (1, Some(job.id)));
    }
    assert_eq!(TOTAL.load(Ordering::SeqCst), PROJECTS);
    eprintln!(
        "{PROJECTS} scheduled syncs run by {} workers",
        workers.len()
    );
    drop((a, b));
}

backend_test! {
    fn racing_workers_claim_each_job_exactly_once(db) {
        const JOBS: usize = 40;
        const WORKERS: usize = 4;
        let pool = db.pool();
        {
            let conn = &mut **pool.get().unwrap();
            for i in 0..JOBS {
                let p = fx::project(conn, &format!("P{i}"), None, None);
                request_sync(conn, Some(&p), None, Origin::Api, None).unwrap();
            }
        }
        let barrier = Barrier::new(WORKERS);
        let claimed: Vec<Vec<SyncJob>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..WORKERS)
                .map(|w| {
                    let (pool, barrier) = (pool.clone(), &barrier);
                    s.spawn(move || {
                        let mut conn = pool.get().unwrap();
                        barrier.wait();
                        let mut mine = Vec::new();
                        while let Some(job) = SyncJob::claim_next(&mut conn, &format!("w{w}")).unwrap() {
                            mine.push(job);
                        }
                        mine
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let all: Vec<&SyncJob> = claimed.iter().flatten().collect();
        let ids: BTreeSet<i64> = all.iter().map(|j| j.id).collect();
        assert_eq!(all.len(), JOBS, "{:?}", claimed.iter().map(Vec::len).collect::<Vec<_>>());
        assert_eq!(ids.len(), JOBS, "no job claimed twice");
        // The row names the worker whose claim returned it.
        let conn = &mut **pool.get().unwrap();
        for (w, mine) in claimed.iter().enumerate() {
            for job in mine {
                let row = SyncJob::find_by_id(conn, job.id).unwrap().unwrap();
                assert_eq!(row.status, JobStatus::Running);
                assert_eq!(row.worker.as_deref(), Some(format!("w{w}").as_str()));
            }
        }
        eprintln!("claims per worker: {:?}", claimed.iter().map(Vec::len).collect::<Vec<_>>());
    }
}
