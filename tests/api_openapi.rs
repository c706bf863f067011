//! `/cache/api/openapi.json` is true: every documented path, method and status is
//! provoked against a running server and must answer exactly so.

mod api_helpers;
mod common;

use api_helpers::{APP, As, ITEM, MEDIA, Reply, World, run, send};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, IF_NONE_MATCH};
use serde_json::Value;
use sodarcache::db::JsonText;

const LIMIT: usize = 64 * 1024;

/// A sync job of the world's project (for `/jobs/{job}`).
fn job_of(w: &World) -> String {
    let conn = &mut **w.app.conn();
    let (job, _) = sodarcache::cache::jobs::request_sync(
        conn,
        Some(&w.project),
        None,
        sodarcache::db::models::Origin::Api,
        None,
    )
    .unwrap();
    job.uuid.to_string()
}

/// Fills a documented path template for the wanted outcome.
fn concrete(w: &World, template: &str, status: u16) -> String {
    let project = if status == 404 {
        uuid::Uuid::new_v4().to_string()
    } else {
        w.project.uuid.to_string()
    };
    if template == "/jobs/{job}" {
        let job = if status == 404 {
            uuid::Uuid::new_v4().to_string()
        } else if status == 400 {
            // A control character in the path breaks the input rule of every endpoint.
            "%1F".to_owned()
        } else {
            job_of(w)
        };
        return format!("/cache/api/jobs/{job}");
    }
    let app = if status == 400 { "no_such_app" } else { APP };
    let mut path = format!("/cache/api{template}")
        .replace("{project}", &project)
        .replace("{app_name}", app)
        .replace("{item_name}", ITEM);
    if status == 400 && template.starts_with("/list/") {
        path.push_str("?app=no_such_app");
    }
    path
}

/// Sends the request that should produce `status`.
async fn provoke(w: &World, disabled: &World, template: &str, method: &str, status: u16) -> Reply {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let world = if status == 503 { disabled } else { w };
    let path = concrete(world, template, status);
    let who = match status {
        401 => As::Anonymous,
        403 => As::User("viewer"),
        _ => As::User("owner"),
    };
    let mut rb = if status == 406 {
        world.request_accepting(method.clone(), &path, who, "application/json")
    } else {
        world.request(method.clone(), &path, who)
    };
    if status == 304 {
        rb = rb.header(IF_NONE_MATCH, "*");
    }
    if status == 429 {
        // Failed Basic passwords up to the limit (5), then one more: locked out.
        for _ in 0..5 {
            send(
                world
                    .request(method.clone(), &path, As::Anonymous)
                    .basic_auth("owner", Some("wrong")),
            )
            .await;
        }
        rb = world
            .request(method.clone(), &path, As::Anonymous)
            .basic_auth("owner", Some("wrong"));
    }
    if template == "/sync/{project}" {
        rb = match status {
            400 => rb
                .header(CONTENT_TYPE, "application/json")
                .body(r#"{"app_name": "no_such_app"}"#),
            413 => rb
                .header(CONTENT_TYPE, "application/json")
                .body(format!("{{\"name\": \"{}\"}}", "x".repeat(8192))),
            415 => rb.header(CONTENT_TYPE, "text/plain").body("app_name=x"),
            _ => rb,
        };
    } else if method == Method::POST {
        rb = match status {
            413 => rb
                .header(CONTENT_TYPE, "application/json")
                .body(format!("{{\"data\": \"{}\"}}", "x".repeat(LIMIT))),
            415 => rb.header(CONTENT_TYPE, "text/plain").body("data"),
            _ => rb
                .header(CONTENT_TYPE, "application/json")
                .body(r#"{"data": {"a": 1}}"#),
        };
    }
    send(rb).await
}

fn restore(w: &World) {
    w.app
        .registry
        .cache_unchecked()
        .set_cache_item_json(
            APP,
            ITEM,
            &JsonText::parse("{}").unwrap(),
            Some(&w.project),
            None,
        )
        .unwrap();
}

backend_test! {
    fn every_documented_status_is_what_the_server_answers(db) {
        let w = World::with(&db, |s| s.max_body_bytes = LIMIT);
        let other = common::TestDb::sqlite();
        let disabled = World::with(&other, |s| s.enabled_backends = vec![]);
        run(async {
            let r = send(w.client.get(w.app.url("/cache/api/openapi.json"))).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), Some("application/json"));
            let doc: Value = r.json();
            assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
            let paths = doc["paths"].as_object().unwrap();
            let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
            documented.sort_unstable();
            assert_eq!(documented, [
                "/delete/{project}/{app_name}/{item_name}",
                "/history/{project}/{app_name}/{item_name}",
                "/jobs/{job}",
                "/list/{project}",
                "/openapi.json",
                "/retrieve/date/{project}/{app_name}/{item_name}",
                "/retrieve/{project}/{app_name}/{item_name}",
                "/set/{project}/{app_name}/{item_name}",
                "/sync/{project}",
            ]);
            let mut checked = 0;
            for (template, ops) in paths {
                for (method, op) in ops.as_object().unwrap() {
                    for (status, spec) in op["responses"].as_object().unwrap() {
                        let status: u16 = status.parse().unwrap();
                        restore(&w);
                        let r = if template == "/openapi.json" {
                            send(w.client.get(w.app.url("/cache/api/openapi.json"))).await
                        } else {
                            provoke(&w, &disabled, template, method, status).await
                        };
                        assert_eq!(r.status.as_u16(), status, "{method} {template}: {}", r.text);
                        if let Some(content) = spec.get("content").and_then(Value::as_object) {
                            let kind = content.keys().next().unwrap();
                            let got = r.header("content-type").unwrap();
                            assert!(got.starts_with(kind.as_str()), "{method} {template} {status}: {got}");
                            if kind == MEDIA && status >= 400 {
                                assert!(r.json()["detail"].is_string());
                            }
                        }
                        checked += 1;
                    }
                }
            }
            assert!(checked >= 39, "{checked}");
        });
    }
}
