//! Admin web UI buttons, black-box over HTTP against a real server: sync (project and
//! site, joining a running job), delete (project, one app, one item, the site), who may
//! press which, CSRF, and the activity log.

mod common;
#[path = "common/web.rs"]
mod web;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sodarcache::cache::SodarCache;
use sodarcache::db::Scope;
use sodarcache::db::models::{CacheItem, Event, Project, PublicAccess, Role, SyncJob, User};
use sodarcache::db::models::{JobStatus, Origin};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::TestApp;
use common::fixtures as fx;
use common::plugins::{Gate, TestPlugin};
use web::*;

const EXAMPLE: &str = "example_project_app";

fn spawn(db: &common::TestDb) -> TestApp {
    let gate = Gate::new();
    gate.open();
    spawn_gated(db, &gate)
}

/// A server whose `slow_app` syncs wait until the test opens `gate`: jobs stay queued
/// or running for as long as the test looks at them.
fn spawn_gated(db: &common::TestDb, gate: &Gate) -> TestApp {
    TestApp::spawn(
        db,
        PluginRegistry::builder()
            .project_app(ExampleProjectApp)
            .project_app(TestPlugin::writes("slow_app", "slow").gated(gate)),
        |_| {},
    )
}

fn cache(app: &TestApp) -> std::sync::Arc<SodarCache> {
    app.registry.cache().expect("cache backend enabled")
}

fn set(app: &TestApp, app_name: &str, name: &str, project: Option<&Project>) -> String {
    cache(app)
        .set_cache_item(
            app_name,
            name,
            &json!({ "name": name }),
            "json",
            project,
            None,
        )
        .expect("set item")
        .uuid
        .to_string()
}

/// A project with an owner, delegate, contributor, guest; a superuser; a stranger.
struct World {
    p: Project,
    other: Project,
}

fn world(app: &TestApp) -> World {
    let conn = &mut **app.conn();
    fx::user(conn, "root", true);
    fx::user(conn, "stranger", false);
    let p = fx::project(conn, "Proj", None, Some(PublicAccess::Guest));
    let other = fx::project(conn, "Other", None, None);
    for (name, role) in [
        ("owner", Role::Owner),
        ("delegate", Role::Delegate),
        ("contributor", Role::Contributor),
        ("guest", Role::Guest),
    ] {
        let u = fx::user(conn, name, false);
        fx::role(conn, &p, &u, role);
    }
    World { p, other }
}

fn jobs(app: &TestApp) -> Vec<SyncJob> {
    SyncJob::list(&mut app.conn(), None, 0, 1000).unwrap()
}

fn events(app: &TestApp) -> Vec<Event> {
    Event::list(&mut app.conn(), None, 1000).unwrap()
}

fn user_id(app: &TestApp, name: &str) -> i64 {
    User::find_by_username(&mut app.conn(), name)
        .unwrap()
        .unwrap()
        .id
}

fn count(app: &TestApp, project: Option<&Project>) -> i64 {
    CacheItem::count_by_app(&mut app.conn(), Some(Scope::of(project)), None)
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum()
}

fn job_uuid(path: &str) -> uuid::Uuid {
    path.strip_prefix("/cache/jobs/")
        .expect("a job page")
        .parse()
        .expect("job uuid")
}

/// Polls the job row until it has ended (bounded).
async fn wait_finished(app: &TestApp, uuid: uuid::Uuid) -> SyncJob {
    poll(Duration::from_secs(15), || {
        SyncJob::find_by_uuid(&mut app.conn(), uuid)
            .unwrap()
            .filter(SyncJob::is_finished)
    })
    .await
    .expect("job ended within 15 s")
}

backend_test! {
    fn project_sync_runs_in_the_worker_and_a_second_click_joins_it(db) {
        let gate = Gate::new();
        let app = spawn_gated(&db, &gate);
        let w = world(&app);
        run(async {
            let c = logged_in(&app, "owner").await;
            let d = logged_in(&app, "delegate").await;
            let d_token = session_csrf(&d, &app).await;
            let path = format!("/cache/project/{}/sync", w.p.uuid);
            let first = post_csrf(&c, &app, &path, &[]).await;
            assert_eq!(first.status(), StatusCode::SEE_OTHER);
            let job_path = location(&first);
            let uuid = job_uuid(&job_path);
            // The request returned while the plugin waits for the gate.
            let job = SyncJob::find_by_uuid(&mut app.conn(), uuid).unwrap().unwrap();
            assert!(!job.is_finished(), "{}", job.status);
            assert_eq!(job.project_id, Some(w.p.id));
            assert_eq!(job.origin, Origin::Web);
            assert_eq!(job.user_id, Some(user_id(&app, "owner")));
            let html = page(&c, &app, &job_path).await;
            assert!(html.contains("Sync queued."), "{html}");

            // A second click (by another manager) while it is queued or running joins it.
            let second = post(&d, &app, &path, &[("csrf_token", &d_token)]).await;
            assert_redirect_to(&second, &job_path);
            let html = page(&d, &app, &job_path).await;
            assert!(html.contains("already queued or running"), "{html}");
            assert_eq!(jobs(&app).len(), 1);

            gate.open();
            let job = wait_finished(&app, uuid).await;
            assert_eq!(job.status, JobStatus::Done, "{:?}", job.error);
            let runs = SyncJob::plugin_runs(&mut app.conn(), job.id).unwrap();
            assert!(runs.iter().all(|r| r.ok), "{runs:?}");
            assert!(cache(&app).get_cache_item("slow_app", "slow", Some(&w.p)).unwrap().is_some());
            assert!(cache(&app).get_cache_item(EXAMPLE, "project_summary", Some(&w.p)).unwrap().is_some());
            assert!(cache(&app).get_cache_item("slow_app", "slow", Some(&w.other)).unwrap().is_none(), "only this project");

            // Once it has ended, the next click starts a new job; a superuser may too.
            let root = logged_in(&app, "root").await;
            let third = post_csrf(&root, &app, &path, &[]).await;
            assert_eq!(third.status(), StatusCode::SEE_OTHER);
            assert_ne!(location(&third), job_path);
            wait_finished(&app, job_uuid(&location(&third))).await;

            // The sync is in the activity log, with who and from where.
            // (The worker records the event just after marking the job ended.)
            let synced = poll(Duration::from_secs(10), || {
                let synced: Vec<Event> = events(&app).into_iter().filter(|e| e.event_name == "cache_sync").collect();
                (synced.len() == 2).then_some(synced)
            })
            .await
            .expect("both syncs logged");
            assert!(synced.iter().all(|e| e.project_id == Some(w.p.id) && e.origin == Origin::Web && e.ok));
            assert!(synced.iter().any(|e| e.user_id == Some(user_id(&app, "owner"))));
            let html = page(&c, &app, &format!("/cache/project/{}", w.p.uuid)).await;
            let activity = &html[html.find("id=\"activity\"").expect("activity")..];
            assert!(activity.contains("Synchronized cache for"), "{activity}");
            assert!(activity.contains("owner via web"), "{activity}");
        });
    }
}

backend_test! {
    fn only_owner_delegate_and_superuser_may_sync_a_project(db) {
        let app = spawn(&db);
        let w = world(&app);
        run(async {
            let path = format!("/cache/project/{}/sync", w.p.uuid);
            for who in ["contributor", "guest", "stranger"] {
                let c = logged_in(&app, who).await;
                let resp = post_csrf(&c, &app, &path, &[]).await;
                assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{who}");
                assert!(resp.text().await.unwrap().contains("You do not have permission"), "{who}");
            }
            // A project the user cannot even read; unknown and malformed UUIDs.
            let c = logged_in(&app, "owner").await;
            let resp = post_csrf(&c, &app, &format!("/cache/project/{}/sync", w.other.uuid), &[]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            let resp = post_csrf(&c, &app, "/cache/project/7c1d2f3e-0000-4000-8000-000000000000/sync", &[]).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND);
            let resp = post_csrf(&c, &app, "/cache/project/nope/sync", &[]).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND);
            assert!(jobs(&app).is_empty(), "no job was created");
            for who in ["delegate", "owner"] {
                let c = logged_in(&app, who).await;
                let resp = post_csrf(&c, &app, &path, &[]).await;
                assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{who}");
                wait_finished(&app, job_uuid(&location(&resp))).await;
            }
        });
    }
}

backend_test! {
    fn every_button_needs_the_sessions_csrf_token(db) {
        let app = spawn(&db);
        let w = world(&app);
        let item = set(&app, EXAMPLE, "x", Some(&w.p));
        run(async {
            let root = logged_in(&app, "root").await;
            let owner = logged_in(&app, "owner").await;
            // A valid token, but of another session.
            let foreign = session_csrf(&owner, &app).await;
            let paths = [
                "/cache/sync".to_owned(),
                "/cache/delete".to_owned(),
                format!("/cache/project/{}/sync", w.p.uuid),
                format!("/cache/project/{}/delete", w.p.uuid),
                format!("/cache/item/{item}/delete"),
                format!("/cache/schedules/{EXAMPLE}"),
                format!("/cache/schedules/{EXAMPLE}/reset"),
                "/logout".to_owned(),
            ];
            for path in &paths {
                for form in [vec![], vec![("csrf_token", "")], vec![("csrf_token", "forged")], vec![("csrf_token", foreign.as_str())]] {
                    let resp = post(&root, &app, path, &form).await;
                    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "POST {path} with {form:?}");
                    assert!(resp.text().await.unwrap().contains("CSRF"), "{path}");
                }
            }
            // Nothing happened, and the session still works.
            assert!(jobs(&app).is_empty());
            assert_eq!(count(&app, Some(&w.p)), 1);
            page(&root, &app, "/cache/").await;
        });
    }
}

backend_test! {
    fn site_sync_and_site_delete_are_for_superusers(db) {
        let gate = Gate::new();
        let app = spawn_gated(&db, &gate);
        let w = world(&app);
        set(&app, EXAMPLE, "site-thing", None);
        set(&app, EXAMPLE, "x", Some(&w.p));
        run(async {
            for who in ["owner", "delegate", "guest", "stranger"] {
                let c = logged_in(&app, who).await;
                let resp = post_csrf(&c, &app, "/cache/sync", &[]).await;
                assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{who}: site sync");
                let resp = post_csrf(&c, &app, "/cache/delete", &[]).await;
                assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{who}: site delete");
                let (status, _) = get(&c, &app, "/cache/delete").await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{who}: site delete page");
            }
            assert!(jobs(&app).is_empty());
            assert_eq!(count(&app, None), 1);
            assert_eq!(count(&app, Some(&w.p)), 1);

            let root = logged_in(&app, "root").await;
            let resp = post_csrf(&root, &app, "/cache/sync", &[]).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            let job_path = location(&resp);
            // A second click joins the running site job.
            let again = post_csrf(&root, &app, "/cache/sync", &[]).await;
            assert_redirect_to(&again, &job_path);
            gate.open();
            let job = wait_finished(&app, job_uuid(&job_path)).await;
            assert_eq!(job.status, JobStatus::Done);
            assert_eq!(job.project_id, None);
            assert!(cache(&app).get_cache_item("slow_app", "slow", None).unwrap().is_some());
            assert!(cache(&app).get_cache_item("slow_app", "slow", Some(&w.p)).unwrap().is_some());
            assert!(cache(&app).get_cache_item("slow_app", "slow", Some(&w.other)).unwrap().is_some());
            let html = page(&root, &app, &job_path).await;
            assert!(html.contains("Whole site"));
            let e = poll(Duration::from_secs(10), || events(&app).into_iter().find(|e| e.event_name == "cache_sync"))
                .await
                .expect("sync logged");
            assert_eq!((e.project_id, e.user_id, e.origin.as_str()), (None, Some(user_id(&app, "root")), "web"));
        });
    }
}

backend_test! {
    fn deleting_a_project_asks_first_then_deletes_one_app_or_all(db) {
        let app = spawn(&db);
        let w = world(&app);
        for name in ["a", "b", "c"] {
            set(&app, EXAMPLE, name, Some(&w.p));
        }
        set(&app, "slow_app", "s1", Some(&w.p));
        set(&app, "slow_app", "s2", Some(&w.p));
        set(&app, EXAMPLE, "keep", Some(&w.other));
        set(&app, EXAMPLE, "site", None);
        run(async {
            let path = format!("/cache/project/{}/delete", w.p.uuid);
            // Not for contributors and guests, whether they GET or POST.
            for who in ["contributor", "guest", "stranger"] {
                let c = logged_in(&app, who).await;
                let (status, _) = get(&c, &app, &path).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
                let resp = post_csrf(&c, &app, &path, &[]).await;
                assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{who}");
            }
            assert_eq!(count(&app, Some(&w.p)), 5);

            let c = logged_in(&app, "delegate").await;
            let html = page(&c, &app, &path).await;
            let counts = &html[html.find("id=\"delete-counts\"").expect("per-app counts")..];
            assert!(counts.contains("<td class=\"wrap\">example_project_app</td><td class=\"num\">3</td>"), "{counts}");
            assert!(counts.contains("<td class=\"wrap\">slow_app</td><td class=\"num\">2</td>"), "{counts}");
            assert!(html.contains("This deletes all 5 items, or only those of the app you choose"), "{html}");
            assert!(has_id(&html, "delete-app") && has_id(&html, "confirm-delete"));
            assert!(html.contains(&format!("action=\"{path}\"")));
            assert_eq!(count(&app, Some(&w.p)), 5, "the GET deletes nothing");

            // One app only.
            let resp = post(&c, &app, &path, &[("csrf_token", &csrf(&html)), ("app", "slow_app")]).await;
            assert_redirect_to(&resp, &format!("/cache/project/{}", w.p.uuid));
            let html = page(&c, &app, &format!("/cache/project/{}", w.p.uuid)).await;
            assert!(html.contains("Deleted 2 cached items of app &#34;slow_app&#34;."), "{html}");
            assert!(!html.contains("slow_app <span"), "no slow_app items left");
            assert_eq!(count(&app, Some(&w.p)), 3);
            // The flash is shown once.
            assert!(!page(&c, &app, &format!("/cache/project/{}", w.p.uuid)).await.contains("Deleted 2 cached items"));

            // An unknown app without items is a client error and deletes nothing (one that
            // is no longer installed but has items can be deleted: tests/web_bulk.rs).
            let resp = post_csrf(&c, &app, &path, &[("app", "nope")]).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
            assert_eq!(count(&app, Some(&w.p)), 3);

            // All apps.
            let resp = post_csrf(&c, &app, &path, &[("app", "")]).await;
            assert_redirect_to(&resp, &format!("/cache/project/{}", w.p.uuid));
            let html = page(&c, &app, &format!("/cache/project/{}", w.p.uuid)).await;
            assert!(html.contains("Deleted 3 cached items."), "{html}");
            assert!(html.contains("Nothing is cached here yet."));
            assert_eq!(count(&app, Some(&w.p)), 0);
            assert_eq!(count(&app, Some(&w.other)), 1, "other projects keep theirs");
            assert_eq!(count(&app, None), 1, "site-wide items stay");

            // Nothing left: the confirmation page says so, and a POST deletes 0.
            let html = page(&c, &app, &path).await;
            assert!(html.contains("nothing would be deleted"));
            let resp = post_csrf(&c, &app, &path, &[]).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            assert!(page(&c, &app, &format!("/cache/project/{}", w.p.uuid)).await.contains("no items deleted"));

            // Each delete is in the activity log.
            let deletes: Vec<Event> = events(&app).into_iter().filter(|e| e.event_name == "cache_delete").collect();
            assert_eq!(deletes.len(), 3, "{deletes:?}");
            let delegate = user_id(&app, "delegate");
            assert!(deletes.iter().all(|e| e.project_id == Some(w.p.id) && e.user_id == Some(delegate) && e.origin == Origin::Web));
            assert!(deletes.iter().any(|e| e.description.contains("Deleted 2 cached data items of app \"slow_app\"")), "{deletes:?}");
            assert!(deletes.iter().any(|e| e.description.contains("Deleted 3 cached data items from project")), "{deletes:?}");
            let html = page(&c, &app, &format!("/cache/project/{}", w.p.uuid)).await;
            let activity = &html[html.find("id=\"activity\"").expect("activity")..];
            assert!(activity.contains("of app &quot;slow_app&quot;") || activity.contains("of app &#34;slow_app&#34;"), "{activity}");
        });
    }
}

backend_test! {
    fn deleting_one_item(db) {
        let app = spawn(&db);
        let w = world(&app);
        let item = set(&app, EXAMPLE, "gone", Some(&w.p));
        let kept = set(&app, EXAMPLE, "kept", Some(&w.p));
        let site_item = set(&app, EXAMPLE, "site", None);
        run(async {
            let path = format!("/cache/item/{item}/delete");
            for who in ["contributor", "guest", "stranger"] {
                let c = logged_in(&app, who).await;
                let (status, _) = get(&c, &app, &path).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
                let resp = post_csrf(&c, &app, &path, &[]).await;
                assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{who}");
            }
            let c = logged_in(&app, "owner").await;
            let html = page(&c, &app, &path).await;
            assert!(html.contains("the item &quot;gone&quot;") || html.contains("the item &#34;gone&#34;"), "{html}");
            assert!(html.contains("This deletes 1 item."));
            let resp = post(&c, &app, &path, &[("csrf_token", &csrf(&html))]).await;
            assert_redirect_to(&resp, &format!("/cache/project/{}", w.p.uuid));
            let html = page(&c, &app, &format!("/cache/project/{}", w.p.uuid)).await;
            assert!(html.contains("Deleted 1 cached item."));
            assert_eq!(item_names(&html), ["kept"]);
            let (status, _) = get(&c, &app, &format!("/cache/item/{item}")).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            let resp = post_csrf(&c, &app, &path, &[]).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "already gone");
            page(&c, &app, &format!("/cache/item/{kept}")).await;

            // Site-wide items: superusers only; back to the site page.
            let resp = post_csrf(&c, &app, &format!("/cache/item/{site_item}/delete"), &[]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            let root = logged_in(&app, "root").await;
            let resp = post_csrf(&root, &app, &format!("/cache/item/{site_item}/delete"), &[]).await;
            assert_redirect_to(&resp, "/cache/site");
            assert_eq!(count(&app, None), 0);

            let deletes: Vec<Event> = events(&app).into_iter().filter(|e| e.event_name == "cache_delete").collect();
            assert_eq!(deletes.len(), 2);
            assert!(deletes.iter().any(|e| e.project_id == Some(w.p.id)
                && e.user_id == Some(user_id(&app, "owner"))
                && e.description == "Deleted item \"example_project_app:gone\""));
            assert!(deletes.iter().any(|e| e.project_id.is_none() && e.user_id == Some(user_id(&app, "root"))));
        });
    }
}

backend_test! {
    fn deleting_the_whole_site(db) {
        let app = spawn(&db);
        let w = world(&app);
        set(&app, EXAMPLE, "a", Some(&w.p));
        set(&app, "slow_app", "b", Some(&w.other));
        set(&app, EXAMPLE, "site", None);
        run(async {
            let root = logged_in(&app, "root").await;
            let html = page(&root, &app, "/cache/delete").await;
            assert!(html.contains("This deletes all 3 items, or only those of the app you choose"), "{html}");
            assert!(html.contains("<td class=\"wrap\">example_project_app</td><td class=\"num\">2</td>"), "{html}");
            assert!(html.contains("<td class=\"wrap\">slow_app</td><td class=\"num\">1</td>"), "{html}");
            // One app across the site.
            let resp = post(&root, &app, "/cache/delete", &[("csrf_token", &csrf(&html)), ("app", "slow_app")]).await;
            assert_redirect_to(&resp, "/cache/");
            assert!(page(&root, &app, "/cache/").await.contains("Deleted 1 cached item of app &#34;slow_app&#34;."));
            assert_eq!(count(&app, Some(&w.other)), 0);
            assert_eq!(count(&app, Some(&w.p)), 1);
            // Everything, site-wide items included.
            let resp = post_csrf(&root, &app, "/cache/delete", &[]).await;
            assert_redirect_to(&resp, "/cache/");
            let html = page(&root, &app, "/cache/").await;
            assert!(html.contains("Deleted 2 cached items."), "{html}");
            assert!(html.contains("No site-wide items."));
            assert_eq!(count(&app, Some(&w.p)) + count(&app, Some(&w.other)) + count(&app, None), 0);
            let deletes: Vec<Event> = events(&app).into_iter().filter(|e| e.event_name == "cache_delete").collect();
            assert_eq!(deletes.len(), 2);
            assert!(deletes.iter().all(|e| e.project_id.is_none() && e.user_id == Some(user_id(&app, "root")) && e.origin == Origin::Web));
            assert!(deletes.iter().any(|e| e.description.contains("from all projects")));
        });
    }
}

backend_test! {
    fn pool_size_concurrent_deletes_all_succeed(db) {
        // Each delete is one unit of work on one pooled connection: `pool_size` of them
        // (and more) at once must not wait for each other's second connection (they
        // used to hold two each, and timed out with 503).
        const POOL: u32 = 4;
        const AT_ONCE: u32 = 2 * POOL;
        let app = TestApp::spawn(&db, PluginRegistry::builder().project_app(ExampleProjectApp), |s| {
            s.pool_size = POOL;
            s.db_timeout = Duration::from_secs(3);
        });
        let projects: Vec<Project> = {
            let conn = &mut **app.conn();
            fx::user(conn, "root", true);
            (0..AT_ONCE).map(|i| fx::project(conn, &format!("P{i}"), None, None)).collect()
        };
        run(async {
            let mut clients = Vec::new();
            for _ in 0..AT_ONCE {
                let c = logged_in(&app, "root").await;
                let token = session_csrf(&c, &app).await;
                clients.push((c, token));
            }
            for round in 0..3 {
                let items: Vec<String> = projects
                    .iter()
                    .map(|p| {
                        set(&app, EXAMPLE, &format!("r{round}"), Some(p));
                        set(&app, EXAMPLE, &format!("one{round}"), Some(p))
                    })
                    .collect();
                let deletes = clients.iter().zip(&items).map(|((c, token), item)| {
                    (c.clone(), format!("/cache/item/{item}/delete"), token.clone())
                });
                let statuses = post_all(&app, deletes.collect()).await;
                assert!(statuses.iter().all(|s| *s == StatusCode::SEE_OTHER), "round {round}: item deletes: {statuses:?}");
                let deletes = clients.iter().zip(&projects).map(|((c, token), p)| {
                    (c.clone(), format!("/cache/project/{}/delete", p.uuid), token.clone())
                });
                let statuses = post_all(&app, deletes.collect()).await;
                assert!(statuses.iter().all(|s| *s == StatusCode::SEE_OTHER), "round {round}: project deletes: {statuses:?}");
                for p in &projects {
                    assert_eq!(count(&app, Some(p)), 0, "round {round}");
                }
            }
        });
    }
}

/// POSTs each `(client, path, token)` at the same time; the statuses, in order.
async fn post_all(app: &TestApp, posts: Vec<(reqwest::Client, String, String)>) -> Vec<StatusCode> {
    let handles: Vec<_> = posts
        .into_iter()
        .map(|(c, path, token)| {
            let url = app.url(&path);
            tokio::spawn(async move {
                c.post(url)
                    .form(&[("csrf_token", token)])
                    .send()
                    .await
                    .expect("POST")
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.expect("request task"));
    }
    statuses
}
