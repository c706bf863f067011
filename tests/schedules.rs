//! Scheduled syncs: a plugin with an interval is synced per project by the server's
//! own worker (origin `scheduled`, one job per plugin and project), once per due run
//! even when servers race for it; a failed scheduled run is highlighted on the
//! overview, which shows the next run; superusers set intervals on the Schedules page.
//!
//! Intervals go down to a second here; every wait polls the database with a deadline
//! of tens of seconds.

mod common;
#[path = "common/web.rs"]
mod web;

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sodarcache::cache::schedule::{MAX_QUEUED, check_setting, schedule_due, schedules};
use sodarcache::db::DbConn;
use sodarcache::db::models::{JobStatus, Origin, Project, ScheduleRun, SyncJob};
use sodarcache::plugin::prelude::*;

use common::TestApp;
use common::fixtures as fx;

/// Calls per project UUID.
type Calls = Arc<Mutex<BTreeMap<uuid::Uuid, usize>>>;

/// Counts its calls per project, writes one item, or fails when told to.
#[derive(Clone)]
struct Counting {
    name: &'static str,
    interval: Option<Duration>,
    /// Fails for projects of this title.
    fail_for: Option<&'static str>,
    calls: Calls,
}

impl Counting {
    fn new(name: &'static str) -> Self {
        Counting {
            name,
            interval: None,
            fail_for: None,
            calls: Calls::default(),
        }
    }

    fn every(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    fn failing_for(mut self, title: &'static str) -> Self {
        self.fail_for = Some(title);
        self
    }

    fn calls(&self, project: &Project) -> usize {
        self.calls
            .lock()
            .unwrap()
            .get(&project.uuid.0)
            .copied()
            .unwrap_or(0)
    }
}

impl ProjectAppPlugin for Counting {
    fn name(&self) -> &'static str {
        self.name
    }

    fn title(&self) -> &'static str {
        "Counting"
    }

    fn sync_project(&self, ctx: &SyncContext, project: &ProjectView) -> SyncResult {
        *self.calls.lock().unwrap().entry(project.uuid).or_default() += 1;
        if self.fail_for == Some(project.title.as_str()) {
            anyhow::bail!("the source is down");
        }
        ctx.set("count", &json!({ "ran": true }))?;
        Ok(())
    }

    fn sync_interval(&self) -> Option<Duration> {
        self.interval
    }
}

/// The scheduled jobs of `project`, oldest first.
fn scheduled_jobs(conn: &mut DbConn, project: &Project) -> Vec<SyncJob> {
    let mut jobs: Vec<SyncJob> = SyncJob::list(conn, None, 0, 1000)
        .unwrap()
        .into_iter()
        .filter(|j| j.origin == Origin::Scheduled && j.project_id == Some(project.id))
        .collect();
    jobs.reverse();
    jobs
}

/// Polls until `check` holds, for at most 30 seconds.
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

backend_test! {
    fn a_due_scheduled_sync_runs_once_per_project_and_plugin(db) {
        let scheduled = Counting::new("counting");
        let other = Counting::new("unscheduled");
        let (p1, p2) = {
            let conn = &mut **db.pool().get().unwrap();
            let cat = fx::category(conn, "Cat", None);
            (fx::project(conn, "One", Some(&cat), None), fx::project(conn, "Two", None, None))
        };
        let plugins = PluginRegistry::builder()
            .project_app(scheduled.clone())
            .project_app(other.clone());
        // An hour: due at once for projects without a scheduled run yet, then not again.
        let app = TestApp::spawn(&db, plugins, |s| {
            s.sync_schedule = vec![("counting".into(), Some(Duration::from_secs(3600)))];
        });
        let conn = &mut *app.conn();
        for p in [&p1, &p2] {
            let job = wait_for("the scheduled sync", || {
                scheduled_jobs(conn, p).into_iter().find(SyncJob::is_finished)
            });
            assert_eq!(job.status, JobStatus::Done, "{job:?}");
            assert_eq!(job.app_name.as_deref(), Some("counting"));
            assert!(job.user_id.is_none());
            let runs = SyncJob::plugin_runs(conn, job.id).unwrap();
            assert_eq!(runs.len(), 1, "only the scheduled plugin ran: {runs:?}");
            assert_eq!(runs[0].plugin, "counting");
        }
        // Several scheduler passes later (it looks every 100 ms here), nothing more ran.
        std::thread::sleep(Duration::from_secs(3));
        let before = sodarcache::db::now();
        for p in [&p1, &p2] {
            assert_eq!(scheduled_jobs(conn, p).len(), 1, "one scheduled job for {}", p.title);
            assert_eq!(scheduled.calls(p), 1);
            assert_eq!(other.calls(p), 0, "a plugin without an interval is never scheduled");
            let run = ScheduleRun::find(conn, "counting", p.id).unwrap().expect("schedule row");
            assert_eq!(run.runs, 1);
            let wait = (run.next_run_at - before).num_seconds();
            assert!((3500..=3600).contains(&wait), "next run in an hour, not {wait} s");
            assert!(ScheduleRun::find(conn, "unscheduled", p.id).unwrap().is_none());
        }
    }
}

backend_test! {
    fn a_scheduled_sync_runs_again_after_its_interval(db) {
        // The plugin's own default interval, one second.
        let plugin = Counting::new("counting").every(Duration::from_secs(1));
        let project = fx::project(&mut db.pool().get().unwrap(), "P", None, None);
        let app = TestApp::spawn(&db, PluginRegistry::builder().project_app(plugin.clone()), |_| {});
        let conn = &mut *app.conn();
        let jobs = wait_for("three scheduled syncs", || {
            let done: Vec<SyncJob> = scheduled_jobs(conn, &project)
                .into_iter()
                .filter(|j| j.status == JobStatus::Done)
                .collect();
            (done.len() >= 3).then_some(done)
        });
        // Each run was queued at least an interval after the one before.
        for pair in jobs.windows(2) {
            let gap = pair[1].created - pair[0].created;
            assert!(gap >= chrono::Duration::seconds(1), "{gap:?}");
        }
        assert!(plugin.calls(&project) >= 3);
    }
}

backend_test! {
    fn racing_schedulers_queue_each_due_run_exactly_once(db) {
        const SCHEDULERS: usize = 4;
        let pool = db.pool();
        let plugins: Vec<Arc<dyn ProjectAppPlugin>> =
            vec![Arc::new(Counting::new("counting").every(Duration::from_secs(3600)))];
        let projects: Vec<Project> = {
            let conn = &mut **pool.get().unwrap();
            (0..MAX_QUEUED).map(|i| fx::project(conn, &format!("P{i}"), None, None)).collect()
        };
        let barrier = Barrier::new(SCHEDULERS);
        let queued: Vec<Vec<SyncJob>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..SCHEDULERS)
                .map(|_| {
                    let (pool, barrier, plugins) = (pool.clone(), &barrier, &plugins);
                    s.spawn(move || {
                        let mut conn = pool.get().unwrap();
                        barrier.wait();
                        let mut mine = Vec::new();
                        for _ in 0..5 {
                            let now = sodarcache::db::now();
                            mine.extend(schedule_due(&mut conn, plugins, &[], now, true).unwrap());
                        }
                        mine
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let conn = &mut **pool.get().unwrap();
        let all: Vec<&SyncJob> = queued.iter().flatten().collect();
        assert_eq!(all.len(), projects.len(), "{queued:?}");
        for p in &projects {
            let jobs = scheduled_jobs(conn, p);
            assert_eq!(jobs.len(), 1, "one job for {}: {jobs:?}", p.title);
            assert_eq!(jobs[0].status, JobStatus::Queued);
            let run = ScheduleRun::find(conn, "counting", p.id).unwrap().unwrap();
            assert_eq!(run.runs, 1);
            assert_eq!(run.last_job_id, Some(jobs[0].id));
        }
        eprintln!("queued per scheduler: {:?}", queued.iter().map(Vec::len).collect::<Vec<_>>());
    }
}

backend_test! {
    fn no_more_scheduled_jobs_are_queued_while_enough_wait(db) {
        let pool = db.pool();
        let plugins: Vec<Arc<dyn ProjectAppPlugin>> =
            vec![Arc::new(Counting::new("counting").every(Duration::from_secs(3600)))];
        let conn = &mut **pool.get().unwrap();
        let projects: Vec<Project> = (0..MAX_QUEUED + 3)
            .map(|i| fx::project(conn, &format!("P{i}"), None, None))
            .collect();
        // A person's sync of the first project is queued: the schedule joins it.
        let (mine, _) = sodarcache::cache::jobs::request_sync(
            conn, Some(&projects[0]), None, Origin::Web, None,
        ).unwrap();
        let now = sodarcache::db::now();
        let first = schedule_due(conn, &plugins, &[], now, true).unwrap();
        assert_eq!(first.len() as i64, MAX_QUEUED);
        assert_eq!(first[0].id, mine.id, "the queued sync of the whole project covers it");
        assert_eq!(SyncJob::queued_scheduled(conn).unwrap(), MAX_QUEUED - 1);
        let second = schedule_due(conn, &plugins, &[], now, true).unwrap();
        assert_eq!(second.len(), 1, "room for one more");
        assert!(schedule_due(conn, &plugins, &[], now, true).unwrap().is_empty());
    }
}

backend_test! {
    fn a_failed_scheduled_sync_is_highlighted_on_the_overview(db) {
        let (admin, ok_project, bad_project) = {
            let conn = &mut **db.pool().get().unwrap();
            (
                fx::user(conn, "admin", true),
                fx::project(conn, "Fine", None, None),
                fx::project(conn, "Broken", None, None),
            )
        };
        let failing = Counting::new("flaky").failing_for("Broken");
        let app = TestApp::spawn(&db, PluginRegistry::builder().project_app(failing), |s| {
            s.sync_schedule = vec![("flaky".into(), Some(Duration::from_secs(3600)))];
        });
        let conn = &mut *app.conn();
        let failed = wait_for("the failed scheduled sync", || {
            scheduled_jobs(conn, &bad_project).into_iter().find(SyncJob::is_finished)
        });
        assert_eq!(failed.status, JobStatus::Failed);
        let fine = wait_for("the other project's run", || {
            scheduled_jobs(conn, &ok_project).into_iter().find(SyncJob::is_finished)
        });
        assert_eq!(fine.status, JobStatus::Done);

        web::run(async {
            let browser = web::logged_in(&app, &admin.username).await;
            let html = web::page(&browser, &app, "/cache/").await;
            let bad = row_of(&html, &bad_project);
            assert!(bad.contains("class=\"failed\""), "{bad}");
            assert!(bad.contains("Scheduled sync failed"), "{bad}");
            assert!(bad.contains(&format!("/cache/jobs/{}", failed.uuid)), "{bad}");
            assert!(bad.contains("Next scheduled sync"), "{bad}");
            let fine = row_of(&html, &ok_project);
            assert!(!fine.contains("Scheduled sync failed"), "{fine}");
            assert!(fine.contains("Next scheduled sync"), "{fine}");
        });
    }
}

/// The overview's table row of `project`.
fn row_of(html: &str, project: &Project) -> String {
    let link = format!("/cache/project/{}\"", project.uuid);
    let at = html
        .find(&link)
        .unwrap_or_else(|| panic!("no row for {}", project.title));
    let start = html[..at].rfind("<tr").expect("row start");
    let end = at + html[at..].find("</tr>").expect("row end");
    html[start..end].to_owned()
}

#[test]
fn the_server_refuses_a_schedule_setting_for_an_unknown_plugin() {
    let plugins: Vec<Arc<dyn ProjectAppPlugin>> = vec![Arc::new(Counting::new("counting"))];
    assert!(check_setting(&[("counting".into(), None)], &plugins).is_ok());
    let err = check_setting(&[("countin".into(), None)], &plugins).unwrap_err();
    assert!(err.contains("countin") && err.contains("counting"), "{err}");
}

backend_test! {
    fn the_page_overrides_the_setting_which_overrides_the_plugin(db) {
        use sodarcache::cache::schedule::Source;
        use sodarcache::db::models::ScheduleOverride;
        let conn = &mut **db.pool().get().unwrap();
        let plugins: Vec<Arc<dyn ProjectAppPlugin>> = vec![
            Arc::new(Counting::new("a").every(Duration::from_secs(60))),
            Arc::new(Counting::new("b").every(Duration::from_secs(60))),
            Arc::new(Counting::new("c")),
        ];
        let setting = vec![("b".to_owned(), None), ("c".to_owned(), Some(Duration::from_secs(7200)))];
        let s = schedules(conn, &plugins, &setting).unwrap();
        assert_eq!((s[0].interval, s[0].source), (Some(Duration::from_secs(60)), Source::Plugin));
        assert_eq!((s[1].interval, s[1].source), (None, Source::Setting));
        assert_eq!((s[2].interval, s[2].source), (Some(Duration::from_secs(7200)), Source::Setting));
        ScheduleOverride::set(conn, "a", None, None).unwrap();
        ScheduleOverride::set(conn, "b", Some(300), None).unwrap();
        let s = schedules(conn, &plugins, &setting).unwrap();
        assert_eq!((s[0].interval, s[0].source), (None, Source::Page));
        assert_eq!((s[1].interval, s[1].source), (Some(Duration::from_secs(300)), Source::Page));
        assert!(ScheduleOverride::clear(conn, "b").unwrap());
        let s = schedules(conn, &plugins, &setting).unwrap();
        assert_eq!((s[1].interval, s[1].source), (None, Source::Setting));
    }
}

backend_test! {
    fn scheduled_jobs_keep_a_job_origin_the_database_accepts(db) {
        // The widened CHECK constraint still refuses what is not an origin.
        use diesel::prelude::*;
        use sodarcache::db::schema::sync_jobs;
        let conn = &mut **db.pool().get().unwrap();
        let p = fx::project(conn, "P", None, None);
        let job = SyncJob::queue_for_app(conn, p.id, "counting", sodarcache::db::now()).unwrap();
        assert_eq!(job.origin, Origin::Scheduled);
        let bad = diesel::update(sync_jobs::table.find(job.id))
            .set(sync_jobs::origin.eq("cron"))
            .execute(conn);
        assert!(bad.is_err(), "an unknown origin is refused");
        // Requests of the same scope join; a person's request for the whole project
        // is a job of its own (it covers every plugin).
        assert_eq!(SyncJob::queue_for_app(conn, p.id, "counting", sodarcache::db::now()).unwrap().id, job.id);
        let (whole, joined) =
            sodarcache::cache::jobs::request_sync(conn, Some(&p), None, Origin::Web, None).unwrap();
        assert!(!joined);
        assert_ne!(whole.id, job.id);
    }
}

backend_test! {
    fn the_schedules_page_is_for_superusers_and_every_change_needs_the_csrf_token(db) {
        use reqwest::StatusCode;
        use sodarcache::db::models::{Role, ScheduleOverride};
        let (admin, owner) = {
            let conn = &mut **db.pool().get().unwrap();
            let admin = fx::user(conn, "admin", true);
            let owner = fx::user(conn, "owner", false);
            let p = fx::project(conn, "P", None, None);
            fx::role(conn, &p, &owner, Role::Owner);
            (admin, owner)
        };
        let plugin = Counting::new("counting").every(Duration::from_secs(86_400));
        let app = TestApp::spawn(&db, PluginRegistry::builder().project_app(plugin), |s| {
            s.sync_schedule = vec![("counting".into(), Some(Duration::from_secs(3600)))];
        });
        let overrides = || ScheduleOverride::all(&mut app.conn()).unwrap();
        web::run(async {
            // Not logged in: the login page.
            let (status, _) = web::get(&web::client(), &app, "/cache/schedules").await;
            assert_eq!(status, StatusCode::SEE_OTHER);

            // A project owner may neither see nor change schedules, even with a token.
            let user = web::logged_in(&app, &owner.username).await;
            let (status, _) = web::get(&user, &app, "/cache/schedules").await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let home = web::page(&user, &app, "/cache/").await;
            assert!(!home.contains("href=\"/cache/schedules\""), "no Schedules link for others");
            let resp = web::post_csrf(&user, &app, "/cache/schedules/counting", &[("interval", "1m")]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            let resp = web::post_csrf(&user, &app, "/cache/schedules/counting/reset", &[]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            assert!(overrides().is_empty());

            // A superuser sees each plugin's interval and where it comes from.
            let browser = web::logged_in(&app, &admin.username).await;
            let html = web::page(&browser, &app, "/cache/").await;
            assert!(html.contains("href=\"/cache/schedules\""), "Schedules in the navigation");
            let html = web::page(&browser, &app, "/cache/schedules").await;
            let row = schedule_row(&html, "counting");
            assert!(row.contains("every <strong>1h</strong>"), "{row}");
            assert!(row.contains("SODARCACHE_SYNC_SCHEDULE"), "{row}");
            assert!(row.contains("1d"), "the plugin's default: {row}");
            assert!(!row.contains("Reset"), "nothing to reset: {row}");

            // Without the token, or with another, nothing changes.
            let resp = web::post(&browser, &app, "/cache/schedules/counting", &[("interval", "2h")]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            let resp = web::post(
                &browser, &app, "/cache/schedules/counting",
                &[("csrf_token", "forged"), ("interval", "2h")],
            ).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            assert!(overrides().is_empty());

            // A bad interval is a 400 with the reason on the page; nothing changes.
            let resp = web::post_csrf(&browser, &app, "/cache/schedules/counting", &[("interval", "soon")]).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
            let body = resp.text().await.unwrap();
            assert!(body.contains("is not an interval"), "{body}");
            assert!(body.contains("value=\"soon\""), "the entry is kept: {body}");
            assert!(overrides().is_empty());
            let resp = web::post_csrf(&browser, &app, "/cache/schedules/nosuch", &[("interval", "1h")]).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND);

            // With the token: set, shown, logged.
            let resp = web::post_csrf(&browser, &app, "/cache/schedules/counting", &[("interval", "2h")]).await;
            web::assert_redirect_to(&resp, "/cache/schedules");
            let o = overrides();
            assert_eq!((o.len(), o[0].interval_seconds, o[0].user_id), (1, Some(7200), Some(admin.id)));
            let html = web::page(&browser, &app, "/cache/schedules").await;
            assert!(html.contains("Scheduled syncs of counting: every 2h."), "flash");
            let row = schedule_row(&html, "counting");
            assert!(row.contains("every <strong>2h</strong>") && row.contains("set on this page"), "{row}");
            // Off, then back to the setting.
            let resp = web::post_csrf(&browser, &app, "/cache/schedules/counting", &[("interval", "off")]).await;
            web::assert_redirect_to(&resp, "/cache/schedules");
            assert_eq!(overrides()[0].interval_seconds, None);
            let resp = web::post(&browser, &app, "/cache/schedules/counting/reset", &[]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "reset needs the token too");
            let resp = web::post_csrf(&browser, &app, "/cache/schedules/counting/reset", &[]).await;
            web::assert_redirect_to(&resp, "/cache/schedules");
            assert!(overrides().is_empty());
            let row = schedule_row(&web::page(&browser, &app, "/cache/schedules").await, "counting");
            assert!(row.contains("every <strong>1h</strong>"), "{row}");
        });
    }
}

backend_test! {
    fn an_interval_set_on_the_schedules_page_starts_scheduled_syncs(db) {
        let (admin, project) = {
            let conn = &mut **db.pool().get().unwrap();
            (fx::user(conn, "admin", true), fx::project(conn, "P", None, None))
        };
        let plugin = Counting::new("counting");
        let app = TestApp::spawn(&db, PluginRegistry::builder().project_app(plugin.clone()), |_| {});
        // No interval anywhere: nothing is scheduled.
        std::thread::sleep(Duration::from_secs(1));
        assert!(scheduled_jobs(&mut app.conn(), &project).is_empty());
        web::run(async {
            let browser = web::logged_in(&app, &admin.username).await;
            let resp = web::post_csrf(&browser, &app, "/cache/schedules/counting", &[("interval", "1h")]).await;
            web::assert_redirect_to(&resp, "/cache/schedules");
        });
        let conn = &mut *app.conn();
        let job = wait_for("the scheduled sync", || {
            scheduled_jobs(conn, &project).into_iter().find(SyncJob::is_finished)
        });
        assert_eq!(job.status, JobStatus::Done);
        assert_eq!(plugin.calls(&project), 1);
    }
}

/// The Schedules page's row of `plugin`.
fn schedule_row(html: &str, plugin: &str) -> String {
    let at = html
        .find(&format!("id=\"schedule-{plugin}\""))
        .unwrap_or_else(|| panic!("no row for {plugin}: {html}"));
    let end = at + html[at..].find("</tr>").expect("row end");
    html[at..end].to_owned()
}
