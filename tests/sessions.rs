//! Server-side sessions on both backends: logout revokes (a copied cookie opens
//! nothing, on any instance), sessions end after the idle timeout and the absolute
//! lifetime, the CLI ends a user's sessions, ended sessions are pruned on a schedule.

mod common;
#[path = "common/web.rs"]
mod web;

use std::process::{Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use sodarcache::db::models::{Role, SyncJob, UserSession};
use sodarcache::db::now;
use sodarcache::db::schema::user_sessions;
use sodarcache::plugins::PluginRegistry;

use common::fixtures::{self as fx, PASSWORD};
use common::{TestApp, TestDb};
use web::*;

fn spawn(db: &TestDb) -> TestApp {
    TestApp::spawn(db, PluginRegistry::builder(), |_| {})
}

/// The `name=value` of the session cookie a response set.
fn session_cookie(resp: &reqwest::Response) -> String {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sodarcache_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Logs in; returns the client and a copy of its session cookie as an attacker would
/// keep it.
async fn login_and_copy(app: &TestApp, username: &str) -> (reqwest::Client, String) {
    let c = client();
    let resp = login(&c, app, username, PASSWORD).await;
    assert_redirect_to(&resp, "/cache/");
    let set = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert!(
        set.iter().any(|v| {
            v.starts_with("sodarcache_session=")
                && v.contains(&format!(
                    "Max-Age={}",
                    app.settings.session_max_age.as_secs()
                ))
        }),
        "the cookie lives as long as a session may: {set:?}"
    );
    (c, session_cookie(&resp))
}

/// GET with only this cookie (no cookie store).
async fn with_cookie(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    client()
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

fn opens(resp: &reqwest::Response) -> bool {
    resp.status() == StatusCode::OK
}

backend_test! {
    fn logout_revokes_the_session_on_every_instance(db) {
        let one = spawn(&db);
        let two = spawn(&db);
        let project = {
            let conn = &mut *one.conn();
            let alice = fx::user(conn, "alice", false);
            let p = fx::project(conn, "P", None, None);
            fx::role(conn, &p, &alice, Role::Owner);
            p
        };
        run(async {
            let (c, copied) = login_and_copy(&one, "alice").await;
            let csrf = session_csrf(&c, &one).await;
            // The copy works on both instances while the session lives.
            for app in [&one, &two] {
                assert!(opens(&with_cookie(app, &copied, "/cache/").await));
            }
            let list = format!("/cache/api/list/{}", project.uuid);
            let api = |app: &TestApp| {
                client()
                    .get(app.url(&list))
                    .header(COOKIE, copied.clone())
                    .header("Accept", "application/vnd.bihealth.sodar-core.sodarcache+json; version=2.0")
                    .send()
            };
            assert_eq!(api(&two).await.unwrap().status(), StatusCode::OK);

            // Logging out on instance one ends it on both.
            let resp = post(&c, &one, "/logout", &[("csrf_token", &csrf)]).await;
            assert_redirect_to(&resp, "/login");
            for app in [&one, &two] {
                let resp = with_cookie(app, &copied, "/cache/").await;
                assert_eq!(resp.status(), StatusCode::SEE_OTHER);
                assert!(location(&resp).starts_with("/login"));
                assert_eq!(api(app).await.unwrap().status(), StatusCode::UNAUTHORIZED, "REST list");
                // The login page does not bounce the dead session back to the overview.
                assert_eq!(with_cookie(app, &copied, "/login").await.status(), StatusCode::OK);
            }
            // Nor does the copied cookie with its CSRF token queue a sync.
            let resp = client()
                .post(two.url(&format!("/cache/project/{}/sync", project.uuid)))
                .header(COOKIE, copied.clone())
                .form(&[("csrf_token", csrf.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            assert!(location(&resp).starts_with("/login"));
        });
        assert!(SyncJob::list(&mut one.conn(), None, 0, 10).unwrap().is_empty(), "no job queued");
    }
}

fn age_sessions(app: &TestApp, last_seen_ago: chrono::Duration, expires_in: chrono::Duration) {
    diesel::update(user_sessions::table)
        .set((
            user_sessions::last_seen.eq(now() - last_seen_ago),
            user_sessions::expires.eq(now() + expires_in),
        ))
        .execute(&mut **app.conn())
        .unwrap();
}

backend_test! {
    fn sessions_end_after_the_idle_timeout_and_the_absolute_lifetime(db) {
        let app = TestApp::spawn(&db, PluginRegistry::builder(), |s| {
            s.session_idle = Duration::from_secs(3600);
            s.session_max_age = Duration::from_secs(7200);
        });
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            // Idle for just under the timeout: still open, and the use counts as activity.
            let (_, cookie) = login_and_copy(&app, "alice").await;
            age_sessions(&app, chrono::Duration::minutes(59), chrono::Duration::hours(1));
            assert!(opens(&with_cookie(&app, &cookie, "/cache/").await));
            let seen = user_sessions::table.select(user_sessions::last_seen).first::<chrono::NaiveDateTime>(&mut **app.conn()).unwrap();
            assert!(now() - seen < chrono::Duration::minutes(1), "last_seen moved forward");
            // Idle past it: ended.
            age_sessions(&app, chrono::Duration::minutes(61), chrono::Duration::hours(1));
            assert!(!opens(&with_cookie(&app, &cookie, "/cache/").await));

            // Active, but past the absolute lifetime: ended too.
            let (_, cookie) = login_and_copy(&app, "alice").await;
            age_sessions(&app, chrono::Duration::zero(), chrono::Duration::seconds(-1));
            assert!(!opens(&with_cookie(&app, &cookie, "/cache/").await));
        });
        assert_eq!(UserSession::count_for_user(&mut app.conn(), 1).unwrap(), 0, "ended sessions are deleted when seen");
    }
}

fn cli(db: &TestDb, args: &[&str], stdin: &str) -> (i32, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sodarcache"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

backend_test! {
    fn set_password_and_logout_everywhere_end_every_session_of_the_user(db) {
        let app = spawn(&db);
        {
            let conn = &mut *app.conn();
            fx::user(conn, "alice", false);
            fx::user(conn, "bob", false);
        }
        run(async {
            let (_, laptop) = login_and_copy(&app, "alice").await;
            let (_, phone) = login_and_copy(&app, "alice").await;
            let (_, bob) = login_and_copy(&app, "bob").await;
            let (code, err) = cli(&db, &["user", "logout-everywhere", "alice"], "");
            assert_eq!(code, 0, "{err}");
            assert!(err.contains("Ended 2 login sessions of user \"alice\""), "{err}");
            for cookie in [&laptop, &phone] {
                assert!(!opens(&with_cookie(&app, cookie, "/cache/").await));
            }
            assert!(opens(&with_cookie(&app, &bob, "/cache/").await), "other users keep theirs");

            let (_, laptop) = login_and_copy(&app, "alice").await;
            let (code, err) = cli(&db, &["user", "set-password", "alice"], "a new passphrase\n");
            assert_eq!(code, 0, "{err}");
            assert!(!opens(&with_cookie(&app, &laptop, "/cache/").await));
            assert_eq!(login(&client(), &app, "alice", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
            assert_redirect_to(&login(&client(), &app, "alice", "a new passphrase").await, "/cache/");
            let (code, err) = cli(&db, &["user", "set-password", "nobody"], "x\n");
            assert_eq!(code, 1, "{err}");
            assert!(err.contains("User not found: \"nobody\""), "{err}");
            let (code, err) = cli(&db, &["user", "set-password", "alice"], "");
            assert_eq!(code, 1, "{err}");
            assert!(err.contains("No password given"), "{err}");
        });
    }
}

backend_test! {
    fn ended_sessions_are_pruned_on_a_schedule(db) {
        let app = TestApp::spawn(&db, PluginRegistry::builder(), |s| s.session_idle = Duration::from_secs(2));
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            login_and_copy(&app, "alice").await;
        });
        let count = || user_sessions::table.count().get_result::<i64>(&mut **app.conn()).unwrap();
        assert_eq!(count(), 1);
        // Nobody uses it again; the server's schedule deletes it once it has ended.
        let gone = run(poll(Duration::from_secs(60), || (count() == 0).then_some(())));
        assert!(gone.is_some(), "an ended session is still stored");
    }
}
