//! Helpers for black-box HTTP tests of the admin pages: a cookie-keeping client that
//! does not follow redirects, log-in through the real form, CSRF scraping, small asserts.
//!
//! Included with `#[path = "common/web.rs"] mod web;` by the `web_*` test files.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use std::future::Future;
use std::time::Duration;

use reqwest::{Client, Response, StatusCode};

use crate::common::TestApp;

/// Runs `f` on a fresh tokio runtime (backend_test! bodies are synchronous).
pub fn run<F: Future>(f: F) -> F::Output {
    tokio::runtime::Runtime::new()
        .expect("tokio runtime")
        .block_on(f)
}

/// A client with its own cookie jar that reports redirects instead of following them.
pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// The value of the first hidden `csrf_token` input in `html`.
pub fn csrf(html: &str) -> String {
    let at = html
        .find("name=\"csrf_token\"")
        .unwrap_or_else(|| panic!("no csrf_token input in page:\n{html}"));
    let rest = &html[at..];
    let v = rest.find("value=\"").expect("csrf_token input has a value") + "value=\"".len();
    let end = rest[v..].find('"').expect("closing quote");
    let token = rest[v..v + end].to_owned();
    assert!(!token.is_empty(), "empty CSRF token");
    token
}

/// GETs `path`; returns the status and the body.
pub async fn get(client: &Client, app: &TestApp, path: &str) -> (StatusCode, String) {
    let resp = client.get(app.url(path)).send().await.expect("GET");
    let status = resp.status();
    (status, resp.text().await.expect("body"))
}

/// GETs `path`, asserting 200; returns the body.
pub async fn page(client: &Client, app: &TestApp, path: &str) -> String {
    let (status, body) = get(client, app, path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// POSTs a form to `path`.
pub async fn post(client: &Client, app: &TestApp, path: &str, form: &[(&str, &str)]) -> Response {
    client
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .expect("POST")
}

/// The CSRF token of the logged-in session (scraped from the layout's logout form).
pub async fn session_csrf(client: &Client, app: &TestApp) -> String {
    csrf(&page(client, app, "/cache/jobs").await)
}

/// POSTs a form to `path` with the session's CSRF token added.
pub async fn post_csrf(
    client: &Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> Response {
    let token = session_csrf(client, app).await;
    let mut fields: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
    fields.extend_from_slice(form);
    post(client, app, path, &fields).await
}

/// Submits the login form as a browser would: GET `/login`, scrape the token, POST.
pub async fn login_next(
    client: &Client,
    app: &TestApp,
    username: &str,
    password: &str,
    next: &str,
) -> Response {
    let html = page(client, app, "/login").await;
    let token = csrf(&html);
    post(
        client,
        app,
        "/login",
        &[
            ("csrf_token", token.as_str()),
            ("username", username),
            ("password", password),
            ("next", next),
        ],
    )
    .await
}

/// Submits the login form with `next` = the overview.
pub async fn login(client: &Client, app: &TestApp, username: &str, password: &str) -> Response {
    login_next(client, app, username, password, "/cache/").await
}

/// A new client logged in as `username` with the fixture password.
pub async fn logged_in(app: &TestApp, username: &str) -> Client {
    let c = client();
    let resp = login(&c, app, username, crate::common::fixtures::PASSWORD).await;
    assert_redirect_to(&resp, "/cache/");
    c
}

/// The response's `Location` header.
pub fn location(resp: &Response) -> String {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .unwrap_or_else(|| panic!("no Location header (status {})", resp.status()))
        .to_str()
        .expect("ascii Location")
        .to_owned()
}

/// Asserts a 303 to exactly `path`.
pub fn assert_redirect_to(resp: &Response, path: &str) {
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "expected 303 to {path}"
    );
    assert_eq!(location(resp), path);
}

/// Asserts `html` has an element with `id="..."`.
pub fn has_id(html: &str, id: &str) -> bool {
    html.contains(&format!("id=\"{id}\""))
}

/// The rows of the table `id="items"`: each row's cells with tags stripped.
pub fn item_names(html: &str) -> Vec<String> {
    let Some(start) = html.find("id=\"items\"") else {
        return Vec::new();
    };
    let table = &html[start
        ..html[start..]
            .find("</table>")
            .map_or(html.len(), |e| start + e)];
    let body = &table[table.find("<tbody>").expect("tbody")..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            // The cell with the item link holds the name.
            let cell = row
                .split("<td")
                .find(|c| c.contains("href=\"/cache/item/"))
                .expect("name cell");
            strip_tags(&cell[cell.find('>').expect("td end") + 1..])
                .trim()
                .to_owned()
        })
        .collect()
}

/// `s` without HTML tags.
pub fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Polls `check` every 50 ms until it returns `Some` or `limit` passes.
pub async fn poll<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
