//! The job page over HTTP: live progress (the page's JSON feed and the page itself), the
//! Cancel button for owners, delegates and superusers only (CSRF-checked), and a
//! cancelled job that ends `cancelled` with nothing written after the cancel.

mod common;
#[path = "common/web.rs"]
mod web;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sodarcache::db::models::{JobStatus, Project, PublicAccess, Role, SyncJob};
use sodarcache::plugin::prelude::*;

use common::TestApp;
use common::fixtures as fx;
use common::plugins::{FnPlugin, Gate};
use web::*;

type Late = Arc<Mutex<Option<Result<(), PluginError>>>>;

/// A server whose `slow_app` reports progress 2 of 5, waits for `gate`, then tries one
/// more write (its result lands in the returned slot).
fn spawn(db: &common::TestDb, gate: &Gate) -> (TestApp, Late) {
    let late: Late = Arc::default();
    let (g, l) = (gate.clone(), late.clone());
    let plugin = FnPlugin::new("slow_app", &[]).on_project(move |ctx, _| {
        ctx.set("early", &json!(1))?;
        ctx.progress(2, 5, "reading assay 2");
        g.wait();
        let r = ctx.set("late", &json!(2));
        *l.lock().unwrap() = Some(r.clone());
        r?;
        Ok(())
    });
    let app = TestApp::spawn(db, PluginRegistry::builder().project_app(plugin), |_| {});
    (app, late)
}

fn world(app: &TestApp) -> Project {
    let conn = &mut **app.conn();
    fx::user(conn, "root", true);
    fx::user(conn, "stranger", false);
    let p = fx::project(conn, "Proj", None, Some(PublicAccess::Guest));
    for (name, role) in [
        ("owner", Role::Owner),
        ("delegate", Role::Delegate),
        ("contributor", Role::Contributor),
        ("guest", Role::Guest),
    ] {
        let u = fx::user(conn, name, false);
        fx::role(conn, &p, &u, role);
    }
    p
}

async fn live(client: &reqwest::Client, app: &TestApp, uuid: &str) -> Value {
    let (status, body) = get(client, app, &format!("/cache/jobs/live?ids={uuid}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["jobs"][0].clone()
}

backend_test! {
    fn a_running_job_shows_live_progress_and_its_managers_can_cancel_it(db) {
        let gate = Gate::new();
        let (app, late) = spawn(&db, &gate);
        let p = world(&app);
        run(async {
            let owner = logged_in(&app, "owner").await;
            let resp = post_csrf(&owner, &app, &format!("/cache/project/{}/sync", p.uuid), &[]).await;
            let job_path = location(&resp);
            let uuid = job_path.trim_start_matches("/cache/jobs/").to_owned();

            // Progress is live: the feed the page polls, and the page itself.
            let mut seen = Value::Null;
            for _ in 0..600 {
                seen = live(&owner, &app, &uuid).await;
                if seen["progress"]["done"] == 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(seen["status"], "running", "{seen}");
            assert_eq!(seen["progress"]["total"], 5, "{seen}");
            assert_eq!(seen["progress"]["text"], "slow_app: 2 of 5 (40%) · reading assay 2", "{seen}");
            let html = page(&owner, &app, &job_path).await;
            assert!(html.contains("<progress value=\"2\" max=\"5\">"), "{html}");
            assert!(html.contains("reading assay 2"));
            assert!(has_id(&html, "cancel-job"), "an owner may cancel");
            assert!(html.contains("<noscript><meta http-equiv=\"refresh\""), "no script: the page refreshes itself");

            // Who may press Cancel: not a guest or a contributor (no button, 403), not a
            // stranger, not without the CSRF token.
            let cancel = format!("{job_path}/cancel");
            for name in ["guest", "contributor"] {
                let c = logged_in(&app, name).await;
                let html = page(&c, &app, &job_path).await;
                assert!(!has_id(&html, "cancel-job"), "{name} sees no Cancel button");
                assert_eq!(post_csrf(&c, &app, &cancel, &[]).await.status(), StatusCode::FORBIDDEN, "{name}");
            }
            let stranger = logged_in(&app, "stranger").await;
            assert_eq!(post_csrf(&stranger, &app, &cancel, &[]).await.status(), StatusCode::FORBIDDEN);
            assert_eq!(post(&owner, &app, &cancel, &[]).await.status(), StatusCode::FORBIDDEN, "CSRF");
            let job = SyncJob::find_by_uuid(&mut app.conn(), uuid.parse().unwrap()).unwrap().unwrap();
            assert!(job.cancel_requested.is_none(), "no refused attempt cancelled it");

            // The delegate cancels; the plugin's next write is refused, whenever it comes.
            let delegate = logged_in(&app, "delegate").await;
            let resp = post_csrf(&delegate, &app, &cancel, &[]).await;
            assert_redirect_to(&resp, &job_path);
            let html = page(&delegate, &app, &job_path).await;
            assert!(html.contains("Cancel requested"), "{html}");
            assert!(!has_id(&html, "cancel-job"), "asked once");
            gate.open();
            let job = poll(Duration::from_secs(30), || {
                SyncJob::find_by_uuid(&mut app.conn(), uuid.parse().unwrap()).unwrap().filter(SyncJob::is_finished)
            }).await.expect("the job ended");
            assert_eq!(job.status, JobStatus::Cancelled);
            let refused = poll(Duration::from_secs(30), || late.lock().unwrap().clone()).await.expect("late write tried");
            assert_eq!(refused, Err(PluginError::Cancelled));
            let cache = app.registry.cache().unwrap();
            assert!(cache.get_cache_item("slow_app", "early", Some(&p)).unwrap().is_some());
            assert!(cache.get_cache_item("slow_app", "late", Some(&p)).unwrap().is_none());

            let html = page(&owner, &app, &job_path).await;
            assert!(html.contains("status-cancelled"), "{html}");
            assert!(html.contains("Cancelled by delegate"), "{html}");
            assert!(!has_id(&html, "cancel-job"));
            assert!(!html.contains("http-equiv=\"refresh\""), "an ended job's page stays");
            assert_eq!(live(&owner, &app, &uuid).await["status"], "cancelled");
            // Cancelling again changes nothing.
            let resp = post_csrf(&owner, &app, &cancel, &[]).await;
            assert_redirect_to(&resp, &job_path);
            assert!(page(&owner, &app, &job_path).await.contains("already ended"));
        });
    }
}

backend_test! {
    fn the_jobs_list_offers_the_live_feed_progress_and_a_superuser_may_cancel(db) {
        let gate = Gate::new();
        let (app, _late) = spawn(&db, &gate);
        let p = world(&app);
        run(async {
            let root = logged_in(&app, "root").await;
            let resp = post_csrf(&root, &app, &format!("/cache/project/{}/sync", p.uuid), &[]).await;
            let job_path = location(&resp);
            let uuid = job_path.trim_start_matches("/cache/jobs/").to_owned();
            let html = page(&root, &app, "/cache/jobs").await;
            assert!(html.contains(&format!("data-job=\"{uuid}\" data-active=\"1\"")), "{html}");
            assert!(html.contains("job-progress"), "a running row has a place for its progress");
            let resp = post_csrf(&root, &app, &format!("{job_path}/cancel"), &[]).await;
            assert_redirect_to(&resp, &job_path);
            gate.open();
            let job = poll(Duration::from_secs(30), || {
                SyncJob::find_by_uuid(&mut app.conn(), uuid.parse().unwrap()).unwrap().filter(SyncJob::is_finished)
            }).await.expect("the job ended");
            assert_eq!(job.status, JobStatus::Cancelled);
            let html = page(&root, &app, "/cache/jobs?status=cancelled").await;
            assert!(html.contains(&uuid), "the status filter knows cancelled jobs");
        });
    }
}
