//! The sample sheets example (`examples/sample_sheets.rs`) run for real, on both
//! backends: through the CLI (a targeted sync of one sub-app for one project, then
//! everything, then `deletecache --app` including the sub-apps) and through the admin
//! pages (the per-app Sync button, progress, Cancel, a plugin timeout, delete).

mod common;
#[path = "../examples/sample_sheets.rs"]
#[allow(dead_code, reason = "the example's main is not called here")]
mod sample_sheets;
#[path = "common/web.rs"]
mod web;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde_json::Value;
use sodarcache::cli::{Cli, execute};
use sodarcache::db::Scope;
use sodarcache::db::models::{CacheItem, JobStatus, Project, Role, SyncJob};
use sodarcache::plugins::{PluginRegistry, RegistryBuilder};

use common::TestApp;
use common::fixtures as fx;
use sample_sheets::{APP, CYTOF, GERMLINE, SampleSheets, Source};
use web::*;

fn plugins(source: &Arc<Source>, assays: usize) -> RegistryBuilder {
    PluginRegistry::builder().project_app(SampleSheets::new(source.clone(), assays))
}

fn counts(conn: &mut sodarcache::db::DbConn, project: &Project) -> Vec<(String, i64)> {
    CacheItem::count_by_app(conn, Some(Scope::Project(project.id)), None).unwrap()
}

fn cli(db: &common::TestDb, source: &Arc<Source>, args: &[&str]) -> ExitCode {
    let mut all = vec!["sodarcache", "--database-url", db.url.as_str()];
    all.extend_from_slice(args);
    execute(Cli::parse_from(all), plugins(source, 3)).expect("the command ran")
}

backend_test! {
    fn the_cli_syncs_one_sub_app_of_one_project_then_everything_and_deletes_with_sub_apps(db) {
        let source = Arc::new(Source::start(Duration::from_millis(5)).unwrap());
        let pool = db.pool();
        let (a, b) = {
            let conn = &mut *pool.get().unwrap();
            (fx::project(conn, "A", None, None), fx::project(conn, "B", None, None))
        };
        let uuid = a.uuid.to_string();
        assert_eq!(cli(&db, &source, &["synccache", "-p", &uuid, "-a", CYTOF]), ExitCode::SUCCESS);
        let conn = &mut *pool.get().unwrap();
        assert_eq!(counts(conn, &a), [(CYTOF.to_owned(), 3)], "only the sub-app, only project A");
        assert!(counts(conn, &b).is_empty());
        let rows = CacheItem::list_for_scope(conn, Scope::Project(a.id)).unwrap();
        for row in &rows {
            assert!(row.name.starts_with("irods/rows/"), "{}", row.name);
            let data = row.data.to_value();
            let paths = data["paths"].as_object().unwrap();
            assert_eq!(paths.len(), 3);
            let nulls = paths.values().filter(|v| v.is_null()).count();
            assert_eq!(nulls, 1, "the failing path is stored as null: {data}");
        }

        assert_eq!(cli(&db, &source, &["synccache", "-p", &uuid]), ExitCode::SUCCESS);
        let mut got = counts(conn, &a);
        got.sort();
        assert_eq!(got, [(APP.to_owned(), 1), (CYTOF.to_owned(), 3), (GERMLINE.to_owned(), 1)]);
        let study = CacheItem::find(conn, Scope::Project(a.id), GERMLINE, &format!("sheet/tables/study/{uuid}")).unwrap().unwrap();
        assert!(study.size_bytes > 500_000, "one large item: {} bytes", study.size_bytes);
        let stats = CacheItem::find(conn, Scope::Project(a.id), APP, &format!("irods/stats/project/{uuid}")).unwrap().unwrap();
        assert_eq!(stats.data.to_value()["failed_paths"], 3);

        assert_eq!(cli(&db, &source, &["deletecache", "-p", &uuid, "--app", APP]), ExitCode::SUCCESS);
        assert!(counts(conn, &a).is_empty(), "the sub-apps' items go with the app's");
        let jobs = SyncJob::list(conn, None, 0, 10).unwrap();
        assert!(jobs.iter().all(|j| j.status == JobStatus::Done), "{jobs:?}");
    }
}

/// Presses the project page's Sync button for `app`, returns the job page's path.
async fn sync_app(c: &reqwest::Client, app: &TestApp, project: &Project, which: &str) -> String {
    let resp = post_csrf(
        c,
        app,
        &format!("/cache/project/{}/sync", project.uuid),
        &[("app", which)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    location(&resp)
}

async fn wait_ended(app: &TestApp, job_path: &str) -> SyncJob {
    let uuid: uuid::Uuid = job_path.trim_start_matches("/cache/jobs/").parse().unwrap();
    poll(Duration::from_secs(120), || {
        SyncJob::find_by_uuid(&mut app.conn(), uuid)
            .unwrap()
            .filter(SyncJob::is_finished)
    })
    .await
    .expect("the job ended")
}

backend_test! {
    fn the_admin_pages_sync_one_sub_app_cancel_time_out_and_delete_with_sub_apps(db) {
        // 40 assays of 3 paths at 100 ms a request: a run takes 12 s or more, time
        // enough to cancel it after its first item, whatever the machine's load.
        let source = Arc::new(Source::start(Duration::from_millis(100)).unwrap());
        let app = TestApp::spawn(&db, plugins(&source, 40), |_| {});
        let p = {
            let conn = &mut **app.conn();
            let owner = fx::user(conn, "owner", false);
            let p = fx::project(conn, "Sheets", None, None);
            fx::role(conn, &p, &owner, Role::Owner);
            p
        };
        run(async {
            let c = logged_in(&app, "owner").await;
            let html = page(&c, &app, &format!("/cache/project/{}", p.uuid)).await;
            assert!(html.contains(&format!("value=\"{CYTOF}\"")), "a Sync button per app, sub-apps included");

            let job_path = sync_app(&c, &app, &p, CYTOF).await;
            let uuid = job_path.trim_start_matches("/cache/jobs/").to_owned();
            // Wait for a written item and reported progress, then cancel.
            let mut live = Value::Null;
            for _ in 0..1200 {
                let (_, body) = get(&c, &app, &format!("/cache/jobs/live?ids={uuid}")).await;
                live = serde_json::from_str::<Value>(&body).unwrap()["jobs"][0].clone();
                let written = counts(&mut app.conn(), &p).iter().map(|(_, n)| n).sum::<i64>();
                if written >= 1 && live["progress"]["done"].as_i64().unwrap_or(0) >= 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(live["progress"]["text"].as_str().unwrap_or("").contains("of 40"), "{live}");
            let resp = post_csrf(&c, &app, &format!("{job_path}/cancel"), &[]).await;
            assert_eq!(resp.status(), 303);
            let job = wait_ended(&app, &job_path).await;
            assert_eq!(job.status, JobStatus::Cancelled);
            let after_cancel = counts(&mut app.conn(), &p);
            assert_eq!(after_cancel.len(), 1, "only the sub-app: {after_cancel:?}");
            assert!(after_cancel[0].1 < 40, "cut short: {after_cancel:?}");
            let runs = SyncJob::plugin_runs(&mut app.conn(), job.id).unwrap();
            assert_eq!(runs[0].error.as_deref(), Some("cancelled"));
            assert_eq!(runs[0].items_written, after_cancel[0].1, "the outcome it had");
            let html = page(&c, &app, &job_path).await;
            assert!(html.contains("status-cancelled") && html.contains("Cancelled by owner"), "{html}");

            // Delete the app: its sub-apps' items go too.
            let resp = post_csrf(&c, &app, &format!("/cache/project/{}/delete", p.uuid), &[("app", APP)]).await;
            assert_eq!(resp.status(), 303);
            assert!(counts(&mut app.conn(), &p).is_empty());
        });
    }
}

backend_test! {
    fn a_sample_sheets_sync_past_the_plugin_timeout_fails_and_stops_writing(db) {
        // 40 assays at 100 ms a request take 12 s or more; the plugin may run 3 s.
        let source = Arc::new(Source::start(Duration::from_millis(100)).unwrap());
        let app = TestApp::spawn(&db, plugins(&source, 40), |s| s.plugin_timeout = Duration::from_secs(3));
        let p = {
            let conn = &mut **app.conn();
            let owner = fx::user(conn, "owner", false);
            let p = fx::project(conn, "Sheets", None, None);
            fx::role(conn, &p, &owner, Role::Owner);
            p
        };
        run(async {
            let c = logged_in(&app, "owner").await;
            let job_path = sync_app(&c, &app, &p, CYTOF).await;
            let job = wait_ended(&app, &job_path).await;
            assert_eq!(job.status, JobStatus::Failed);
            let runs = SyncJob::plugin_runs(&mut app.conn(), job.id).unwrap();
            assert!(runs[0].error.as_deref().unwrap_or("").starts_with("timed out after 3 seconds"), "{runs:?}");
            let at_end: i64 = counts(&mut app.conn(), &p).iter().map(|(_, n)| n).sum();
            assert!(at_end < 40, "{at_end}");
            // The plugin notices the closed context at its next request (100 ms) and
            // stops; whatever it tries in between is refused. Two seconds of headroom.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let later: i64 = counts(&mut app.conn(), &p).iter().map(|(_, n)| n).sum();
            assert_eq!(later, at_end, "nothing written after the timeout");
        });
    }
}

backend_test! {
    fn sync_this_item_on_the_item_page_queues_a_job_for_that_item_only(db) {
        let source = Arc::new(Source::start(Duration::from_millis(5)).unwrap());
        let app = TestApp::spawn(&db, plugins(&source, 2), |_| {});
        let p = {
            let conn = &mut **app.conn();
            let owner = fx::user(conn, "owner", false);
            let p = fx::project(conn, "Sheets", None, None);
            fx::role(conn, &p, &owner, Role::Owner);
            p
        };
        run(async {
            let c = logged_in(&app, "owner").await;
            let first = sync_app(&c, &app, &p, CYTOF).await;
            assert_eq!(wait_ended(&app, &first).await.status, JobStatus::Done);
            let items = CacheItem::list_for_scope(&mut app.conn(), Scope::Project(p.id)).unwrap();
            let item = items.iter().find(|i| i.app_name == CYTOF).expect("a sub-app item").clone();

            // The item page offers the button, with this item's app and name.
            let html = page(&c, &app, &format!("/cache/item/{}", item.uuid)).await;
            assert!(html.contains("id=\"sync-item\""), "{html}");
            assert!(html.contains(&format!("name=\"name\" value=\"{}\"", item.name)), "{html}");

            // Pressing it queues a job limited to that app and item, which ends done.
            let resp = post_csrf(
                &c,
                &app,
                &format!("/cache/project/{}/sync", p.uuid),
                &[("app", item.app_name.as_str()), ("name", item.name.as_str())],
            )
            .await;
            assert_eq!(resp.status(), 303);
            let job = wait_ended(&app, &location(&resp)).await;
            assert_eq!(job.status, JobStatus::Done);
            assert_eq!(job.item_name.as_deref(), Some(item.name.as_str()));
            assert_eq!(job.project_id, Some(p.id));
        });
    }
}
