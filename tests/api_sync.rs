//! `POST /cache/api/sync/{project}` and `GET /cache/api/jobs/{uuid}` over HTTP, on both
//! backends: the Sync button's roles, 202 with the job, targeted by app and name,
//! joining a covering job, progress visible while the job runs, each plugin's outcome.

mod api_helpers;
mod common;

use std::time::Duration;

use api_helpers::{As, MEDIA, World, run, send};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};
use sodarcache::plugin::prelude::*;

use common::plugins::{FnPlugin, Gate, TestPlugin};

/// A world whose `sheets` plugin (sub-app `sheets.assay`) reports progress 1 of 4,
/// waits for `gate`, then writes `rows` under the sub-app; `other` writes `x`.
fn world(db: &common::TestDb, gate: &Gate) -> World {
    let g = gate.clone();
    let sheets = FnPlugin::new("sheets", &["sheets.assay"]).on_project(move |ctx, _| {
        ctx.progress(1, 4, "assay 1");
        g.wait();
        if ctx.wants_app("sheets.assay") && ctx.wants("rows") {
            ctx.sub_app("sheets.assay")?
                .set("rows", &json!([1, null]))?;
        }
        Ok(())
    });
    World::with_plugins(
        db,
        PluginRegistry::builder()
            .project_app(sheets)
            .project_app(TestPlugin::writes("other", "x")),
        |_| {},
    )
}

async fn sync(w: &World, who: As<'_>, body: Option<Value>) -> api_helpers::Reply {
    let path = format!("/cache/api/sync/{}", w.project.uuid);
    let mut rb = w.request(Method::POST, &path, who);
    if let Some(b) = body {
        rb = rb
            .header(CONTENT_TYPE, "application/json")
            .body(b.to_string());
    }
    send(rb).await
}

async fn job(w: &World, url: &str, who: As<'_>) -> api_helpers::Reply {
    send(w.request(Method::GET, url, who)).await
}

backend_test! {
    fn a_sync_is_queued_with_202_and_its_progress_and_outcomes_are_read_back(db) {
        let gate = Gate::new();
        let w = world(&db, &gate);
        run(async {
            let r = sync(&w, As::User("delegate"), Some(json!({"app_name": "sheets.assay", "name": "rows"}))).await;
            assert_eq!(r.status, 202, "{}", r.text);
            r.assert_media("2.0");
            let body = r.json();
            let uuid = body["uuid"].as_str().unwrap().to_owned();
            let url = format!("/cache/api/jobs/{uuid}");
            assert_eq!(body["url"], url.as_str());
            assert_eq!(body["page"], format!("/cache/jobs/{uuid}"));
            assert_eq!(r.header("location"), Some(url.as_str()));
            assert_eq!(body["joined"], false);

            // Progress through REST while the plugin waits (a reader may look).
            let mut seen = Value::Null;
            for _ in 0..600 {
                seen = job(&w, &url, As::User("guest")).await.json();
                if seen["progress"]["done"] == 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(seen["status"], "running", "{seen}");
            assert_eq!(seen["progress"], json!({
                "plugin": "sheets", "done": 1, "total": 4, "message": "assay 1",
                "updated": seen["progress"]["updated"],
            }));
            assert_eq!((seen["app_name"].as_str(), seen["name"].as_str()), (Some("sheets.assay"), Some("rows")));
            assert_eq!(seen["project"], w.project.uuid.to_string());
            assert_eq!(seen["origin"], "api");
            assert_eq!(seen["user"], w.users["delegate"].uuid.to_string());
            assert_eq!(seen["plugins"], json!([]), "outcomes come at the end");

            // The same request, or a narrower one, joins the running job.
            let again = sync(&w, As::User("owner"), Some(json!({"app_name": "sheets.assay", "name": "rows"}))).await;
            assert_eq!((again.status.as_u16(), again.json()["uuid"].as_str()), (202, Some(uuid.as_str())));
            assert_eq!(again.json()["joined"], true);

            gate.open();
            let mut done = Value::Null;
            for _ in 0..600 {
                done = job(&w, &url, As::User("owner")).await.json();
                if done["status"] != "running" && done["status"] != "queued" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(done["status"], "done", "{done}");
            assert!(done["finished"].is_string());
            let plugins = done["plugins"].as_array().unwrap();
            assert_eq!(plugins.len(), 1, "only the plugin owning the app: {done}");
            assert_eq!((plugins[0]["plugin"].as_str(), plugins[0]["ok"].as_bool(), plugins[0]["items_written"].as_i64()), (Some("sheets"), Some(true), Some(1)));
            let cache = w.app.registry.cache_unchecked();
            assert!(cache.get_cache_item("sheets.assay", "rows", Some(&w.project)).unwrap().is_some());
            assert!(cache.get_cache_item("other", "x", Some(&w.project)).unwrap().is_none());
        });
    }
}

backend_test! {
    fn the_sync_endpoint_has_the_sync_buttons_roles_and_clear_errors(db) {
        let gate = Gate::new();
        gate.open();
        let w = world(&db, &gate);
        run(async {
            for who in ["contributor", "guest", "viewer", "nobody"] {
                let r = sync(&w, As::User(who), None).await;
                r.assert_error(403, "You do not have permission to perform this action.");
            }
            assert_eq!(sync(&w, As::Anonymous, None).await.status, 401);
            for who in ["owner", "superuser", "cat_owner"] {
                let r = sync(&w, As::User(who), None).await;
                assert_eq!(r.status, 202, "{who}: {}", r.text);
            }
            let r = sync(&w, As::User("owner"), Some(json!({"app_name": "nope"}))).await;
            assert_eq!(r.status, 400);
            assert!(r.json()["detail"].as_str().unwrap().starts_with("Unknown app name \"nope\""), "{}", r.text);
            let r = sync(&w, As::User("owner"), Some(json!({"app_name": "sodarcache"}))).await;
            assert_eq!(r.status, 400, "{}", r.text);
            let r = sync(&w, As::User("owner"), Some(json!({"unknown": 1}))).await;
            assert_eq!(r.status, 400, "{}", r.text);
            let r = sync(&w, As::User("owner"), Some(json!({"name": ""}))).await;
            assert_eq!(r.status, 400, "{}", r.text);
            let path = format!("/cache/api/sync/{}", w.project.uuid);
            let r = send(w.request(Method::POST, &path, As::User("owner")).header(CONTENT_TYPE, "text/plain").body("x")).await;
            assert_eq!(r.status, 415);
            let r = send(w.request(Method::POST, "/cache/api/sync/not-a-uuid", As::User("owner"))).await;
            assert_eq!(r.status, 404);
            let r = send(w.request(Method::POST, &format!("/cache/api/sync/{}", w.category.uuid), As::User("superuser"))).await;
            assert_eq!(r.status, 403, "categories are not synced: {}", r.text);

            // Jobs: readers of the project; unknown or malformed UUIDs are 404.
            let r = sync(&w, As::User("owner"), None).await;
            let url = r.json()["url"].as_str().unwrap().to_owned();
            assert_eq!(job(&w, &url, As::User("viewer")).await.status, 403);
            assert_eq!(job(&w, &url, As::Anonymous).await.status, 401);
            assert_eq!(job(&w, &format!("/cache/api/jobs/{}", uuid::Uuid::new_v4()), As::User("owner")).await.status, 404);
            assert_eq!(job(&w, "/cache/api/jobs/nope", As::User("owner")).await.status, 404);
            let r = job(&w, &url, As::User("guest")).await;
            assert_eq!(r.status, 200);
            r.assert_media("2.0");
            let _ = MEDIA;
        });
    }
}
