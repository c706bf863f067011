//! Admin web UI security, black-box over HTTP against a real server: log-in and
//! log-out, open redirects, session cookie flags, CSRF, throttling, security headers,
//! static files and `/healthz`.

mod common;
#[path = "common/web.rs"]
mod web;

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, SET_COOKIE};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::TestApp;
use common::fixtures::{self as fx, PASSWORD};
use web::*;

fn spawn(db: &common::TestDb) -> TestApp {
    TestApp::spawn(
        db,
        PluginRegistry::builder().project_app(ExampleProjectApp),
        |_| {},
    )
}

backend_test! {
    fn every_admin_page_redirects_anonymous_visitors_to_login(db) {
        let app = spawn(&db);
        let (project, item, job) = {
            let conn = &mut **app.conn();
            let project = fx::project(conn, "P", None, None);
            let owner = fx::user(conn, "owner", false);
            let item = app
                .registry
                .cache()
                .unwrap()
                .set_cache_item("example_project_app", "i", &serde_json::json!({}), "json", Some(&project), None)
                .unwrap();
            let (job, _) = sodarcache::cache::jobs::request_sync(
                conn,
                Some(&project),
                None,
                sodarcache::db::models::Origin::Cli,
                Some(&owner),
            )
            .unwrap();
            (project.uuid.to_string(), item.uuid.to_string(), job.uuid.to_string())
        };
        run(async {
            let c = client();
            let pages = [
                "/cache/".to_owned(),
                "/cache/site".to_owned(),
                format!("/cache/project/{project}"),
                format!("/cache/project/{project}?q=a%20b&sort=name"),
                format!("/cache/project/{project}/delete"),
                format!("/cache/item/{item}"),
                format!("/cache/item/{item}/download"),
                format!("/cache/item/{item}/delete"),
                "/cache/jobs".to_owned(),
                format!("/cache/jobs/{job}"),
                "/cache/delete".to_owned(),
            ];
            for path in &pages {
                let resp = c.get(app.url(path)).send().await.unwrap();
                assert_redirect_to(&resp, &sodarcache::web::page::login_url(path));
            }
            // The query string survives, percent-encoded.
            let resp = c.get(app.url(&format!("/cache/project/{project}?q=x&sort=name"))).send().await.unwrap();
            assert_eq!(
                location(&resp),
                format!("/login?next=%2Fcache%2Fproject%2F{project}%3Fq%3Dx%26sort%3Dname")
            );
            // POST buttons too, before any CSRF or permission check.
            for path in [
                "/cache/sync".to_owned(),
                "/cache/delete".to_owned(),
                format!("/cache/project/{project}/sync"),
                format!("/cache/project/{project}/delete"),
                format!("/cache/item/{item}/delete"),
            ] {
                let resp = post(&c, &app, &path, &[("csrf_token", "x")]).await;
                assert_eq!(resp.status(), StatusCode::SEE_OTHER, "POST {path}");
                assert!(location(&resp).starts_with("/login?next="), "POST {path}");
            }
            // `/` goes to the overview.
            let resp = c.get(app.url("/")).send().await.unwrap();
            assert_redirect_to(&resp, "/cache/");
        });
    }
}

backend_test! {
    fn login_with_a_wrong_password_is_401_and_the_right_one_follows_next(db) {
        let app = spawn(&db);
        let project = {
            let conn = &mut **app.conn();
            fx::user(conn, "alice", false);
            fx::project(conn, "P", None, Some(sodarcache::db::models::PublicAccess::Guest))
        };
        run(async {
            let c = client();
            let resp = login(&c, &app, "alice", "wrong").await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            let body = resp.text().await.unwrap();
            assert!(body.contains("Wrong username or password."), "{body}");
            // The form is shown again with the username kept.
            assert!(body.contains("value=\"alice\""));
            // Unknown users get the same answer.
            let resp = login(&c, &app, "nobody", PASSWORD).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            assert!(resp.text().await.unwrap().contains("Wrong username or password."));
            // Still not logged in.
            let (status, _) = get(&c, &app, "/cache/").await;
            assert_eq!(status, StatusCode::SEE_OTHER);

            let next = format!("/cache/project/{}", project.uuid);
            let resp = login_next(&c, &app, "alice", PASSWORD, &next).await;
            assert_redirect_to(&resp, &next);
            let html = page(&c, &app, &next).await;
            assert!(html.contains("alice"));
            // The login page of a logged-in user goes straight on.
            let resp = c.get(app.url("/login?next=/cache/jobs")).send().await.unwrap();
            assert_redirect_to(&resp, "/cache/jobs");
        });
    }
}

backend_test! {
    fn login_does_not_redirect_to_another_host(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            for next in [
                "https://evil.example/",
                "//evil.example/x",
                "/\\evil.example",
                "http:/evil.example",
                "evil.example",
                "",
            ] {
                let c = client();
                let resp = login_next(&c, &app, "alice", PASSWORD, next).await;
                assert_redirect_to(&resp, "/cache/");
                // The login page does not offer it either.
                let c = client();
                let html = page(&c, &app, &format!("/login?next={}", sodarcache::web::page::encode_component(next))).await;
                assert!(html.contains("name=\"next\" value=\"/cache/\""), "next {next:?}");
            }
        });
    }
}

backend_test! {
    fn login_requires_csrf(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = client();
            page(&c, &app, "/login").await;
            let resp = post(&c, &app, "/login", &[("csrf_token", "forged"), ("username", "alice"), ("password", PASSWORD)]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            let resp = post(&c, &app, "/login", &[("username", "alice"), ("password", PASSWORD)]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            let (status, _) = get(&c, &app, "/cache/").await;
            assert_eq!(status, StatusCode::SEE_OTHER, "not logged in");
        });
    }
}

backend_test! {
    fn logout_needs_the_csrf_token(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = logged_in(&app, "alice").await;
            let resp = post(&c, &app, "/logout", &[]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "no token");
            let resp = post(&c, &app, "/logout", &[("csrf_token", "forged")]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "wrong token");
            page(&c, &app, "/cache/").await;

            let resp = post_csrf(&c, &app, "/logout", &[]).await;
            assert_redirect_to(&resp, "/login");
            let (status, _) = get(&c, &app, "/cache/").await;
            assert_eq!(status, StatusCode::SEE_OTHER, "logged out");
            let html = page(&c, &app, "/login").await;
            assert!(html.contains("You are logged out."));
        });
    }
}

fn session_cookie(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("sodarcache_session="))
        .expect("session cookie set")
}

backend_test! {
    fn the_session_cookie_is_http_only_and_same_site_lax(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = client();
            let resp = c.get(app.url("/login")).send().await.unwrap();
            let before = session_cookie(&resp);
            let token = csrf(&resp.text().await.unwrap());
            let resp = post(&c, &app, "/login", &[("csrf_token", &token), ("username", "alice"), ("password", PASSWORD)]).await;
            assert_redirect_to(&resp, "/cache/");
            let cookie = session_cookie(&resp);
            assert!(cookie.contains("HttpOnly"), "{cookie}");
            assert!(cookie.contains("SameSite=Lax"), "{cookie}");
            assert!(!cookie.contains("Secure"), "{cookie}");
            // Renewed at login: not the anonymous session's value.
            let value = |c: &str| c.split(';').next().unwrap().to_owned();
            assert_ne!(value(&before), value(&cookie));
            // Encrypted: the user id and token are not readable in it.
            assert!(!cookie.contains("user_id") && !cookie.contains("csrf"), "{cookie}");
        });
    }
}

backend_test! {
    fn the_session_cookie_is_secure_when_configured(db) {
        let app = TestApp::spawn(&db, PluginRegistry::builder(), |s| s.secure_cookies = true);
        run(async {
            let resp = client().get(app.url("/login")).send().await.unwrap();
            let cookie = session_cookie(&resp);
            assert!(cookie.contains("Secure"), "{cookie}");
            assert!(cookie.contains("HttpOnly"), "{cookie}");
            assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        });
    }
}

backend_test! {
    fn a_forged_session_cookie_is_ignored(db) {
        let app = spawn(&db);
        run(async {
            let resp = client()
                .get(app.url("/cache/"))
                .header("Cookie", "sodarcache_session=dXNlcl9pZD0x")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            assert!(location(&resp).starts_with("/login"));
        });
    }
}

backend_test! {
    fn five_failed_logins_lock_the_username_from_that_address(db) {
        let app = spawn(&db);
        {
            let conn = &mut **app.conn();
            fx::user(conn, "alice", false);
            fx::user(conn, "bob", false);
        }
        run(async {
            let c = client();
            for attempt in 1..=5 {
                let resp = login(&c, &app, "alice", "wrong").await;
                assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
            }
            // The sixth attempt is refused even with the right password.
            let resp = login(&c, &app, "alice", PASSWORD).await;
            assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
            assert!(resp.text().await.unwrap().contains("Too many failed login attempts"));
            let (status, _) = get(&c, &app, "/cache/").await;
            assert_eq!(status, StatusCode::SEE_OTHER, "not logged in");
            // From a fresh session too: the lock is per username and address, not per cookie.
            let resp = login(&client(), &app, "alice", PASSWORD).await;
            assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
            // Other usernames are not locked.
            let resp = login(&client(), &app, "bob", PASSWORD).await;
            assert_redirect_to(&resp, "/cache/");
        });
    }
}

backend_test! {
    fn a_successful_login_clears_earlier_failures(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            for _ in 0..4 {
                assert_eq!(login(&client(), &app, "alice", "wrong").await.status(), StatusCode::UNAUTHORIZED);
            }
            assert_redirect_to(&login(&client(), &app, "alice", PASSWORD).await, "/cache/");
            for _ in 0..4 {
                assert_eq!(login(&client(), &app, "alice", "wrong").await.status(), StatusCode::UNAUTHORIZED);
            }
            assert_redirect_to(&login(&client(), &app, "alice", PASSWORD).await, "/cache/");
        });
    }
}

backend_test! {
    fn pages_carry_the_security_headers(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = logged_in(&app, "alice").await;
            let anon = client();
            for (who, path) in [
                (&anon, "/login"),
                (&anon, "/cache/"),
                (&c, "/cache/"),
                (&c, "/cache/jobs"),
                (&c, "/cache/project/not-a-uuid"),
                (&anon, "/healthz"),
                (&anon, "/static/app.css"),
            ] {
                let resp = who.get(app.url(path)).send().await.unwrap();
                let h = resp.headers();
                assert_eq!(h.get("x-frame-options").unwrap(), "DENY", "{path}");
                assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff", "{path}");
                let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
                assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
                assert!(csp.contains("style-src 'self'"), "{path}: {csp}");
                assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
                assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{path}: {csp}");
            }
            // Pages have no inline scripts or styles the policy would block.
            for (who, path) in [(&anon, "/login"), (&c, "/cache/"), (&c, "/cache/jobs")] {
                let html = page(who, &app, path).await;
                assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains(" style="), "{path}");
            }
        });
    }
}

backend_test! {
    fn static_files_are_served_with_cache_headers_and_no_listing(db) {
        let app = spawn(&db);
        run(async {
            let c = client();
            let resp = c.get(app.url("/static/app.css")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert!(resp.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
            let cc = resp.headers().get(CACHE_CONTROL).expect("Cache-Control").to_str().unwrap().to_owned();
            assert!(cc.contains("max-age="), "{cc}");
            assert!(!resp.text().await.unwrap().is_empty());
            let resp = c.get(app.url("/static/app.js")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            for path in ["/static/", "/static", "/static/../Cargo.toml", "/static/%2e%2e/Cargo.toml", "/static/nope.css"] {
                let resp = c.get(app.url(path)).send().await.unwrap();
                let status = resp.status();
                let body = resp.text().await.unwrap();
                assert!(
                    status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                    "{path}: {status}"
                );
                // The styled error page links the stylesheet; a listing would link it relatively.
                assert!(!body.contains("href=\"app.css\"") && !body.contains("[package]"), "{path}: {body}");
            }
        });
    }
}

backend_test! {
    fn healthz_is_200_when_the_database_answers(db) {
        let app = spawn(&db);
        run(async {
            let resp = client().get(app.url("/healthz")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["status"], "ok");
        });
    }
}

backend_test! {
    fn error_pages_do_not_leak_internals_and_need_no_login_to_be_safe(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = logged_in(&app, "alice").await;
            let (status, body) = get(&c, &app, "/cache/project/00000000-0000-0000-0000-000000000000").await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert!(body.contains("404"));
            assert!(!body.contains("diesel") && !body.contains("panicked"));
        });
    }
}

backend_test! {
    fn control_characters_and_bad_escapes_in_forms_and_filters_are_a_400(db) {
        let app = spawn(&db);
        let project = {
            let conn = &mut *app.conn();
            fx::user(conn, "alice", true);
            fx::project(conn, "P", None, None)
        };
        run(async {
            // The unauthenticated login form: a NUL username is a 400, not a database error.
            let c = client();
            let resp = login(&c, &app, "ali\0ce", PASSWORD).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
            assert!(resp.text().await.unwrap().contains("Usernames must not contain control characters"));
            let c = logged_in(&app, "alice").await;
            for query in ["q=%00", "app=%00", "q=a%0Ab", "q=%FF", "app=%FE"] {
                let (status, body) = get(&c, &app, &format!("/cache/project/{}?{query}", project.uuid)).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            }
        });
    }
}

backend_test! {
    fn next_must_be_a_same_site_path_without_control_characters(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = logged_in(&app, "alice").await;
            for next in ["/%09/evil.example", "/%0a", "/%0d%0aSet-Cookie:x=1", "/\\evil.example", "%2F%2Fevil.example", "https://evil.example/"] {
                let resp = c.get(app.url(&format!("/login?next={next}"))).send().await.unwrap();
                assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{next}");
                assert_eq!(location(&resp), "/cache/", "{next}");
            }
            let resp = c.get(app.url("/login?next=/cache/jobs%3Fpage%3D2")).send().await.unwrap();
            assert_eq!(location(&resp), "/cache/jobs?page=2");
            let resp = c.get(app.url("/login?next=/caf%C3%A9")).send().await.unwrap();
            assert_eq!(location(&resp), "/caf%C3%A9", "non-ASCII is percent-encoded");
        });
    }
}

backend_test! {
    fn flash_messages_are_capped_and_the_cookie_stays_small(db) {
        let app = spawn(&db);
        let project = {
            let conn = &mut *app.conn();
            let alice = fx::user(conn, "alice", false);
            let p = fx::project(conn, "P", None, None);
            fx::role(conn, &p, &alice, sodarcache::db::models::Role::Owner);
            p
        };
        run(async {
            let c = logged_in(&app, "alice").await;
            let token = session_csrf(&c, &app).await;
            let path = format!("/cache/project/{}/delete", project.uuid);
            let mut biggest = 0;
            for i in 0..90 {
                let resp = post(&c, &app, &path, &[("csrf_token", &token)]).await;
                assert_eq!(resp.status(), StatusCode::SEE_OTHER, "POST {i}");
                for cookie in resp.headers().get_all(SET_COOKIE) {
                    biggest = biggest.max(cookie.len());
                }
            }
            assert!(biggest < 4096, "session cookie grew to {biggest} bytes");
            let html = page(&c, &app, &format!("/cache/project/{}", project.uuid)).await;
            let shown = html.matches("Nothing was cached there").count();
            assert!((1..=5).contains(&shown), "{shown} flashes shown");
        });
    }
}

fn site_item_world(app: &TestApp) -> String {
    let conn = &mut *app.conn();
    fx::user(conn, "root", true);
    let owner = fx::user(conn, "owner", false);
    fx::user(conn, "nobody", false);
    let p = fx::project(conn, "P", None, None);
    fx::role(conn, &p, &owner, sodarcache::db::models::Role::Owner);
    app.registry
        .cache()
        .unwrap()
        .set_cache_item(
            "example_project_app",
            "everything",
            &serde_json::json!({"all": 1}),
            "json",
            None,
            None,
        )
        .unwrap()
        .uuid
        .to_string()
}

backend_test! {
    fn site_wide_items_are_for_superusers_unless_opened_to_all(db) {
        let app = spawn(&db);
        let item = site_item_world(&app);
        run(async {
            for who in ["owner", "nobody"] {
                let c = logged_in(&app, who).await;
                for path in ["/cache/site".to_owned(), format!("/cache/item/{item}"), format!("/cache/item/{item}/download")] {
                    let (status, _) = get(&c, &app, &path).await;
                    assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {path}");
                }
                let html = page(&c, &app, "/cache/").await;
                assert!(!html.contains("Site-wide items") && !html.contains("href=\"/cache/site\""), "{who}: {html}");
            }
            let root = logged_in(&app, "root").await;
            for path in ["/cache/site".to_owned(), format!("/cache/item/{item}")] {
                page(&root, &app, &path).await;
            }
            assert!(page(&root, &app, "/cache/").await.contains("Site-wide items"));
        });
    }
}

backend_test! {
    fn the_setting_opens_site_wide_items_to_every_user_for_reading(db) {
        let app = TestApp::spawn(&db, PluginRegistry::builder().project_app(ExampleProjectApp), |s| {
            s.site_items_readable_by_all = true;
        });
        let item = site_item_world(&app);
        run(async {
            let c = logged_in(&app, "nobody").await;
            page(&c, &app, "/cache/site").await;
            assert!(page(&c, &app, &format!("/cache/item/{item}")).await.contains("everything"));
            assert!(page(&c, &app, "/cache/").await.contains("Site-wide items"));
            // Reading only: deleting stays with superusers.
            let (status, _) = get(&c, &app, &format!("/cache/item/{item}/delete")).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        });
    }
}
