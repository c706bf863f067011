//! HTTP Basic authentication (`Authorization: Basic`, first in SODAR's REST settings) on
//! every endpoint, through the same login throttle as the login page: the same counts,
//! the same lockout, the same bound on password checks. On both backends.

#[path = "api_helpers/mod.rs"]
mod api_helpers;
mod common;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};

use api_helpers::{As, ITEM, ITEM_DATA, Reply, World, run, send};
use common::TestDb;
use common::fixtures::PASSWORD;

fn basic(
    w: &World,
    method: Method,
    path: &str,
    user: &str,
    password: &str,
) -> reqwest::RequestBuilder {
    w.request(method, path, As::Anonymous)
        .basic_auth(user, Some(password))
}

/// Both challenges, Basic first (as SODAR lists the schemes), on a 401.
fn assert_challenges(reply: &Reply) {
    let challenges: Vec<&str> = reply
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        challenges,
        vec!["Basic realm=\"api\", charset=\"UTF-8\"", "Token"],
        "{reply:?}"
    );
}

backend_test! {
    fn the_right_password_opens_every_endpoint_and_needs_no_csrf_token(db) {
        let w = World::new(&db);
        run(async {
            let retrieve = w.item_path("retrieve", &w.project, ITEM);
            let r = send(basic(&w, Method::GET, &retrieve, "owner", PASSWORD)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.json()["data"], serde_json::from_str::<serde_json::Value>(ITEM_DATA).unwrap());
            let r = send(basic(&w, Method::GET, &w.item_path("retrieve/date", &w.project, ITEM), "owner", PASSWORD)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let r = send(basic(&w, Method::POST, &w.item_path("set", &w.project, "by_basic"), "owner", PASSWORD)
                .header(CONTENT_TYPE, "application/json")
                .body(r#"{"data": {"basic": true}}"#)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(w.stored(&w.project, "by_basic").as_deref(), Some(r#"{"basic": true}"#));
            let r = send(basic(&w, Method::GET, &format!("/cache/api/list/{}", w.project.uuid), "owner", PASSWORD)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let r = send(basic(&w, Method::GET, &w.item_path("history", &w.project, ITEM), "owner", PASSWORD)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let r = send(basic(&w, Method::OPTIONS, &retrieve, "owner", PASSWORD)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let r = send(basic(&w, Method::DELETE, &w.item_path("delete", &w.project, "by_basic"), "owner", PASSWORD)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            // Roles apply as for a token: a viewer may not write.
            let r = send(basic(&w, Method::POST, &w.item_path("set", &w.project, "x"), "viewer", PASSWORD)
                .header(CONTENT_TYPE, "application/json")
                .body(r#"{"data": 1}"#)).await;
            r.assert_error(403, "You do not have permission to perform this action.");
        });
    }
}

backend_test! {
    fn wrong_or_malformed_credentials_are_a_401_with_both_challenges(db) {
        let w = World::new(&db);
        let retrieve = w.item_path("retrieve", &w.project, ITEM);
        run(async {
            let r = send(basic(&w, Method::GET, &retrieve, "owner", "wrong")).await;
            r.assert_error(401, "Invalid username/password.");
            assert_challenges(&r);
            let r = send(basic(&w, Method::GET, &retrieve, "no_such_user", PASSWORD)).await;
            r.assert_error(401, "Invalid username/password.");
            for (header, detail) in [
                ("Basic", "Invalid basic header. No credentials provided."),
                ("Basic a b", "Invalid basic header. Credentials string should not contain spaces."),
                ("Basic %%%", "Invalid basic header. Credentials not correctly base64 encoded."),
                // "owner" without a colon.
                ("Basic b3duZXI=", "Invalid basic header. Credentials not correctly base64 encoded."),
            ] {
                let r = send(w.request(Method::GET, &retrieve, As::Anonymous).header(AUTHORIZATION, header)).await;
                r.assert_error(401, detail);
                assert_challenges(&r);
            }
            // A username with a control character names nobody (and is never stored).
            let r = send(basic(&w, Method::GET, &retrieve, "own\0er", PASSWORD)).await;
            r.assert_error(401, "Invalid username/password.");
            // No credentials at all: the same challenges.
            let r = w.get(&retrieve, As::Anonymous).await;
            r.assert_error(401, "Authentication credentials were not provided.");
            assert_challenges(&r);
        });
    }
}

backend_test! {
    fn wrong_passwords_sent_at_once_lock_out_basic_and_the_login_page_alike(db) {
        let w = World::new(&db);
        let retrieve = w.item_path("retrieve", &w.project, ITEM);
        run(async {
            // Twelve wrong passwords at once: five are checked, the rest refused unchecked.
            let attempts = (0..12).map(|_| send(basic(&w, Method::GET, &retrieve, "owner", "wrong")));
            let mut statuses: Vec<u16> = Vec::new();
            let mut handles = Vec::new();
            for a in attempts {
                handles.push(tokio::spawn(a));
            }
            for h in handles {
                statuses.push(h.await.unwrap().status.as_u16());
            }
            statuses.sort();
            assert_eq!(statuses, [vec![401; 5], vec![429; 7]].concat());
            // Locked out: the right password too, over Basic ...
            let r = send(basic(&w, Method::GET, &retrieve, "owner", PASSWORD)).await;
            assert_eq!(r.status, 429, "{}", r.text);
            let wait: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
            assert!((1..=300).contains(&wait), "{wait}");
            assert!(r.json()["detail"].as_str().unwrap().contains("Too many failed login attempts"), "{}", r.text);
            r.assert_media("2.0");
            // ... and on the login page, from the same address.
            let c = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
            let form = c.get(w.app.url("/login")).send().await.unwrap().text().await.unwrap();
            let at = form.find("name=\"csrf_token\"").unwrap();
            let at = at + form[at..].find("value=\"").unwrap() + 7;
            let csrf = &form[at..at + form[at..].find('"').unwrap()];
            let login = c.post(w.app.url("/login"))
                .form(&[("csrf_token", csrf), ("username", "owner"), ("password", PASSWORD), ("next", "/cache/")])
                .send().await.unwrap();
            assert_eq!(login.status(), 429);
            // Other users and tokens are not affected.
            let r = send(basic(&w, Method::GET, &retrieve, "contributor", PASSWORD)).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(w.get(&retrieve, As::User("owner")).await.status, 200);
        });
    }
}

backend_test! {
    fn failures_on_the_login_page_count_for_basic_and_a_success_resets_them(db) {
        let w = World::new(&db);
        let retrieve = w.item_path("retrieve", &w.project, ITEM);
        run(async {
            for _ in 0..4 {
                let r = send(basic(&w, Method::GET, &retrieve, "owner", "wrong")).await;
                assert_eq!(r.status, 401);
            }
            // A success resets the pair (django-axes' AXES_RESET_ON_SUCCESS) ...
            assert_eq!(send(basic(&w, Method::GET, &retrieve, "owner", PASSWORD)).await.status, 200);
            for _ in 0..5 {
                assert_eq!(send(basic(&w, Method::GET, &retrieve, "owner", "wrong")).await.status, 401);
            }
            // ... so the lock comes at the sixth failure after it.
            assert_eq!(send(basic(&w, Method::GET, &retrieve, "owner", "wrong")).await.status, 429);
        });
    }
}

#[test]
fn non_ascii_usernames_work_over_basic() {
    let db = TestDb::sqlite();
    let w = World::new(&db);
    common::fixtures::user(&mut w.app.conn(), "jürgen", false);
    let retrieve = w.item_path("retrieve", &w.project, ITEM);
    run(async {
        // reqwest sends UTF-8; the user has no role in the project: authenticated, then 403.
        let r = send(basic(&w, Method::GET, &retrieve, "jürgen", PASSWORD)).await;
        r.assert_error(403, "You do not have permission to perform this action.");
    });
}
