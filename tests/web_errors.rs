//! Every error of the admin pages, for any URL, is the styled page with the navigation,
//! the user's name and a way on; bad paging parameters show a page; pages are never
//! cached and are sent compressed.

mod common;
#[path = "common/web.rs"]
mod web;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE};
use serde_json::json;
use sodarcache::cache::CacheWrite;
use sodarcache::db::JsonText;
use sodarcache::db::models::Role;
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::TestApp;
use common::fixtures as fx;
use web::*;

fn spawn(db: &common::TestDb) -> TestApp {
    TestApp::spawn(
        db,
        PluginRegistry::builder().project_app(ExampleProjectApp),
        |_| {},
    )
}

/// Asserts a styled error page: the status, HTML, no-store, the layout (with the
/// user's name when logged in), a link on, and no bare text.
async fn assert_error_page(
    resp: reqwest::Response,
    status: StatusCode,
    user: Option<&str>,
    what: &str,
) -> String {
    assert_eq!(resp.status(), status, "{what}");
    let ct = resp.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "{what}: {ct}");
    assert_eq!(
        resp.headers()
            .get(CACHE_CONTROL)
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{what}"
    );
    let body = resp.text().await.unwrap();
    assert!(body.contains("<header class=\"topbar\">"), "{what}: {body}");
    assert!(
        body.contains(&format!("<h1>{} · ", status.as_u16())),
        "{what}: {body}"
    );
    assert!(body.contains("href=\"/cache/\""), "{what}: a way on");
    match user {
        Some(name) => {
            assert!(
                body.contains(&format!("id=\"who\">{name}")),
                "{what}: user name: {body}"
            );
            assert!(body.contains("href=\"/cache/jobs\""), "{what}: navigation");
        }
        None => assert!(body.contains("href=\"/login"), "{what}: log-in link"),
    }
    body
}

backend_test! {
    fn unknown_urls_and_wrong_methods_get_the_styled_page_with_the_user(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = logged_in(&app, "alice").await;
            for path in ["/nope", "/static/x", "/cache/nope", "/cache/project/1/nope", "/cache/jobs/", "/static/nope.css"] {
                let resp = c.get(app.url(path)).send().await.unwrap();
                let body = assert_error_page(resp, StatusCode::NOT_FOUND, Some("alice"), path).await;
                assert!(body.contains("There is no page at this address."), "{path}: {body}");
            }
            // A POST nobody answers, and a wrong method on a known path.
            let resp = post_csrf(&c, &app, "/nope", &[]).await;
            assert_error_page(resp, StatusCode::NOT_FOUND, Some("alice"), "POST /nope").await;
            let resp = c.delete(app.url("/cache/")).send().await.unwrap();
            assert_eq!(resp.headers()["allow"], "GET");
            assert_error_page(resp, StatusCode::METHOD_NOT_ALLOWED, Some("alice"), "DELETE /cache/").await;
            // Anonymous visitors get the same page with a way to log in.
            let resp = client().get(app.url("/nope")).send().await.unwrap();
            assert_error_page(resp, StatusCode::NOT_FOUND, None, "anonymous /nope").await;
        });
    }
}

backend_test! {
    fn every_page_asked_with_another_method_is_a_405_with_allow(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", true);
        let id = uuid::Uuid::new_v4().to_string();
        run(async {
            let c = logged_in(&app, "alice").await;
            for (pattern, allow) in sodarcache::web::PAGES {
                let path = pattern.replace("{uuid}", &id);
                let allowed: Vec<&str> = allow.split(", ").collect();
                for method in ["GET", "POST", "PUT", "DELETE"] {
                    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                    let resp = c.request(m, app.url(&path)).send().await.unwrap();
                    if allowed.contains(&method) {
                        // The page answers it (whatever it says about this made-up id).
                        assert_ne!(resp.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                    } else {
                        assert_eq!(resp.headers()["allow"], *allow, "{method} {path}");
                        assert_error_page(resp, StatusCode::METHOD_NOT_ALLOWED, Some("alice"), &path).await;
                    }
                }
            }
            let resp = c.post(app.url("/healthz")).send().await.unwrap();
            assert_eq!((resp.status(), resp.headers()["allow"].to_str().unwrap()), (StatusCode::METHOD_NOT_ALLOWED, "GET"));
            let resp = c.post(app.url("/static/app.css")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(resp.headers()["allow"], "GET, HEAD");
        });
    }
}

backend_test! {
    fn cache_without_the_slash_and_get_logout_lead_somewhere(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = logged_in(&app, "alice").await;
            let resp = c.get(app.url("/cache")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::PERMANENT_REDIRECT);
            assert_eq!(location(&resp), "/cache/");
            // GET /logout asks with a button that posts the form with the token.
            let html = page(&c, &app, "/logout").await;
            assert!(has_id(&html, "confirm-logout"), "{html}");
            assert!(html.contains("action=\"/logout\""));
            let token = csrf(&html);
            let resp = post(&c, &app, "/logout", &[("csrf_token", &token)]).await;
            assert_redirect_to(&resp, "/login");
            let (status, _) = get(&c, &app, "/cache/").await;
            assert_eq!(status, StatusCode::SEE_OTHER, "logged out");
            // Logged out, GET /logout goes to the login page.
            let resp = c.get(app.url("/logout")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            // The favicon is served, and /favicon.ico points at it.
            let resp = c.get(app.url("/favicon.ico")).send().await.unwrap();
            assert_eq!(location(&resp), "/static/favicon.svg");
            let resp = c.get(app.url("/static/favicon.svg")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert!(resp.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("image/svg"));
        });
    }
}

backend_test! {
    fn forbidden_and_not_found_pages_keep_the_navigation_and_the_user(db) {
        let app = spawn(&db);
        let p = {
            let conn = &mut *app.conn();
            let viewer = fx::user(conn, "vera", false);
            let p = fx::project(conn, "Secret", None, None);
            fx::role(conn, &p, &viewer, Role::Viewer);
            p
        };
        run(async {
            let c = logged_in(&app, "vera").await;
            let resp = c.get(app.url(&format!("/cache/project/{}", p.uuid))).send().await.unwrap();
            let body = assert_error_page(resp, StatusCode::FORBIDDEN, Some("vera"), "403").await;
            assert!(body.contains("permission"), "{body}");
            let resp = c.get(app.url("/cache/project/00000000-0000-4000-8000-000000000000")).send().await.unwrap();
            assert_error_page(resp, StatusCode::NOT_FOUND, Some("vera"), "unknown project").await;
            // A forged form (wrong CSRF token) is a 403 page too.
            let resp = post(&c, &app, &format!("/cache/project/{}/sync", p.uuid), &[("csrf_token", "forged")]).await;
            assert_error_page(resp, StatusCode::FORBIDDEN, Some("vera"), "CSRF").await;
        });
    }
}

backend_test! {
    fn the_lockout_page_has_the_form_and_the_unlock_time(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = client();
            for _ in 0..5 {
                assert_eq!(login(&c, &app, "alice", "wrong").await.status(), StatusCode::UNAUTHORIZED);
            }
            let resp = login(&c, &app, "alice", fx::PASSWORD).await;
            assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
            let wait: i64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=300).contains(&wait), "Retry-After {wait}");
            assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
            let body = resp.text().await.unwrap();
            assert!(body.contains("<header class=\"topbar\">"), "{body}");
            assert!(body.contains("id=\"password\""), "the form is there: {body}");
            assert!(body.contains("value=\"alice\""), "the username is kept");
            let unlock = &body[body.find("id=\"unlock\"").expect("unlock time")..];
            assert!(unlock.contains("<time class=\"exact\" datetime=\""), "{unlock}");
            assert!(unlock.contains(" UTC</time>") && unlock.contains("(in "), "{unlock}");
        });
    }
}

backend_test! {
    fn bad_and_past_the_end_page_numbers_show_a_page(db) {
        let app = spawn(&db);
        let p = {
            let conn = &mut *app.conn();
            let ann = fx::user(conn, "ann", false);
            let p = fx::project(conn, "Paged", None, None);
            fx::role(conn, &p, &ann, Role::Guest);
            p
        };
        let names: Vec<String> = (0..120).map(|i| format!("item-{i:03}")).collect();
        let writes: Vec<CacheWrite<'_>> = names
            .iter()
            .map(|n| CacheWrite { app_name: "example_project_app", name: n, data: JsonText::from_value(&json!(1)), project: Some(&p), user: None })
            .collect();
        app.registry.cache().unwrap().set_cache_items(&writes).unwrap();
        run(async {
            let c = logged_in(&app, "ann").await;
            let base = format!("/cache/project/{}", p.uuid);
            for bad in ["abc", "", "1.5", "-1", "0", "99999999999999999999999"] {
                let html = page(&c, &app, &format!("{base}?page={bad}&sort=name")).await;
                assert_eq!(item_names(&html).first().map(String::as_str), Some("item-000"), "page={bad}");
                assert!(html.contains("Page 1 of 3"), "page={bad}");
            }
            let html = page(&c, &app, &format!("{base}?page=42&sort=name")).await;
            assert!(item_names(&html).is_empty());
            assert!(html.contains("Page 42 is past the end: there are 3 pages."), "{html}");
            assert!(html.contains("href=\"/cache/project/") && html.contains("page=3\" id=\"last-page\""), "{html}");
            assert!(!html.contains("No items match") && !html.contains("Clear the search"), "{html}");
            // With a search, the same: past the end, not "no match".
            let html = page(&c, &app, &format!("{base}?q=item-1&page=5")).await;
            assert!(html.contains("past the end: there is 1 page"), "{html}");
        });
    }
}

backend_test! {
    fn pages_are_not_cached_and_are_compressed_for_clients_that_accept_it(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = logged_in(&app, "alice").await;
            for path in ["/cache/", "/cache/jobs", "/cache/site", "/login"] {
                let resp = c.get(app.url(path)).send().await.unwrap();
                assert_eq!(resp.headers().get(CACHE_CONTROL).map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
                assert!(resp.headers().get(CONTENT_ENCODING).is_none(), "{path}: not asked for");
            }
            let resp = c.get(app.url("/cache/")).header(ACCEPT_ENCODING, "gzip").send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(resp.headers()[CONTENT_ENCODING], "gzip");
            let body = resp.bytes().await.unwrap();
            assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
            // Error pages too.
            let resp = c.get(app.url("/nope")).header(ACCEPT_ENCODING, "gzip").send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND);
            assert_eq!(resp.headers()[CONTENT_ENCODING], "gzip");
            // Static files keep their own caching.
            let resp = c.get(app.url("/static/app.css")).send().await.unwrap();
            assert!(resp.headers()[CACHE_CONTROL].to_str().unwrap().contains("max-age"));
            // The API is left as it is: JSON errors, no no-store added.
            let resp = c.get(app.url("/cache/api/list/nope")).send().await.unwrap();
            assert!(!resp.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        });
    }
}

/// `sodarcache::web::PAGES` (the `Allow` lists of 405 answers) names exactly the routes
/// the handlers register, so a new page cannot be missing from it.
#[test]
fn the_allow_table_lists_every_registered_page() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
    let mut registered: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            for method in ["get", "post", "put", "patch", "delete"] {
                if let Some(rest) = line.trim().strip_prefix(&format!("#[{method}(\"")) {
                    let path = rest.split('"').next().unwrap().to_owned();
                    registered
                        .entry(path)
                        .or_default()
                        .push(method.to_uppercase());
                }
            }
        }
    }
    let mut table: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (path, allow) in sodarcache::web::PAGES {
        let mut methods: Vec<String> = allow.split(", ").map(str::to_owned).collect();
        methods.sort();
        table.insert((*path).to_owned(), methods);
    }
    for methods in registered.values_mut() {
        methods.sort();
    }
    assert_eq!(registered, table);
}
