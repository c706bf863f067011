//! Session authentication: a browser logged in at `/login` may use the API; its
//! writes need the `X-CSRFToken` header, as in DRF's `SessionAuthentication`.

mod api_helpers;
mod common;

use api_helpers::{As, ITEM, MEDIA, World, run, send};
use common::fixtures::PASSWORD;
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::json;

const CSRF_FAILED: &str = "CSRF Failed: CSRF token missing or incorrect.";

fn csrf_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(html[start..start + len].to_owned())
}

/// A cookie-keeping client logged in as `username`, and the session's CSRF token.
async fn log_in(w: &World, username: &str) -> (reqwest::Client, String) {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client.get(w.app.url("/login")).send().await.unwrap();
    assert_eq!(form.status(), 200, "the login page exists");
    let csrf = csrf_in(&form.text().await.unwrap()).expect("login form has a CSRF token");
    let res = client
        .post(w.app.url("/login"))
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
            ("next", "/cache/"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "logged in: {}", res.status());
    // Logging in renews the session and its CSRF token: read the new one off a page.
    let page = client
        .get(w.app.url("/cache/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = csrf_in(&page).expect("a logged-in page carries the CSRF token");
    (client, csrf)
}

fn api(client: &reqwest::Client, w: &World, method: Method, path: &str) -> reqwest::RequestBuilder {
    client
        .request(method, w.app.url(path))
        .header(ACCEPT, format!("{MEDIA}; version=2.0"))
}

backend_test! {
    fn a_session_reads_and_writes_with_the_csrf_token(db) {
        let w = World::new(&db);
        run(async {
            let (client, csrf) = log_in(&w, "contributor").await;
            let r = send(api(&client, &w, Method::GET, &w.item_path("retrieve", &w.project, ITEM))).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let set = w.item_path("set", &w.project, "by_session");
            let body = json!({"data": {"s": 1}}).to_string();
            let post = || api(&client, &w, Method::POST, &set).header(CONTENT_TYPE, "application/json").body(body.clone());
            send(post()).await.assert_error(403, CSRF_FAILED);
            send(post().header("X-CSRFToken", "wrong")).await.assert_error(403, CSRF_FAILED);
            assert_eq!(w.stored(&w.project, "by_session"), None);
            let r = send(post().header("X-CSRFToken", &csrf)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert!(w.stored(&w.project, "by_session").is_some());
            let delete = w.item_path("delete", &w.project, "by_session");
            send(api(&client, &w, Method::DELETE, &delete)).await.assert_error(403, CSRF_FAILED);
            let r = send(api(&client, &w, Method::DELETE, &delete).header("X-CSRFToken", &csrf)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            // A token on the same request is used instead, and needs no CSRF token.
            let r = send(post().header(AUTHORIZATION, format!("token {}", w.tokens["owner"]))).await;
            assert_eq!(r.status, 200, "{}", r.text);
        });
    }
}

backend_test! {
    fn a_session_has_the_users_permissions(db) {
        let w = World::new(&db);
        run(async {
            let (client, csrf) = log_in(&w, "guest").await;
            let r = send(api(&client, &w, Method::GET, &w.item_path("retrieve", &w.project, ITEM))).await;
            assert_eq!(r.status, 200);
            let set = w.item_path("set", &w.project, ITEM);
            let r = send(
                api(&client, &w, Method::POST, &set)
                    .header(CONTENT_TYPE, "application/json")
                    .header("X-CSRFToken", &csrf)
                    .body(r#"{"data": 1}"#),
            )
            .await;
            r.assert_error(403, "You do not have permission to perform this action.");
            let (viewer, _) = log_in(&w, "viewer").await;
            let r = send(api(&viewer, &w, Method::GET, &w.item_path("retrieve", &w.project, ITEM))).await;
            r.assert_error(403, "You do not have permission to perform this action.");
            // Without the cookie: not authenticated.
            let r = w.get(&w.item_path("retrieve", &w.project, ITEM), As::Anonymous).await;
            assert_eq!(r.status, 401);
        });
    }
}
