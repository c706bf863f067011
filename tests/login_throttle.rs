//! Login throttling (django-axes' rules) under attack, on both backends: attempts sent
//! all at once, through two server instances, from many usernames, behind a reverse
//! proxy; the lockout answer; the bound on concurrent password checks; pruning.

mod common;
#[path = "common/web.rs"]
mod web;

use std::net::IpAddr;
use std::time::Duration;

use reqwest::StatusCode;
use sodarcache::auth::throttle::{LoginGuard, Policy, Verdict};
use sodarcache::db::models::LoginFailures;
use sodarcache::plugins::PluginRegistry;

use common::fixtures::{self as fx, PASSWORD};
use common::{TestApp, TestDb};
use web::*;

fn spawn(db: &TestDb, tweak: impl FnOnce(&mut sodarcache::settings::Settings)) -> TestApp {
    TestApp::spawn(db, PluginRegistry::builder(), tweak)
}

/// A login form ready to post: a client with its session and the form's CSRF token.
async fn ready(app: &TestApp) -> (reqwest::Client, String) {
    let c = client();
    let token = csrf(&page(&c, app, "/login").await);
    (c, token)
}

async fn post_login(
    c: &reqwest::Client,
    app: &TestApp,
    token: &str,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut req = c.post(app.url("/login")).form(&[
        ("csrf_token", token),
        ("username", username),
        ("password", password),
        ("next", "/cache/"),
    ]);
    if let Some(xff) = forwarded_for {
        req = req.header("X-Forwarded-For", xff);
    }
    req.send().await.expect("POST /login")
}

backend_test! {
    fn wrong_passwords_sent_at_once_through_two_instances_check_five_and_refuse_the_rest(db) {
        let one = spawn(&db, |_| {});
        let two = spawn(&db, |_| {});
        fx::user(&mut one.conn(), "alice", false);
        run(async {
            // Every form is fetched first, then all 30 posts leave at once.
            let mut forms = Vec::new();
            for i in 0..30 {
                let app = if i % 2 == 0 { &one } else { &two };
                forms.push((app, ready(app).await));
            }
            let posts = forms.iter().map(|(app, (c, token))| post_login(c, app, token, "alice", "wrong", None));
            let statuses: Vec<StatusCode> = futures_all(posts).await.iter().map(|r| r.status()).collect();
            let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
            let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
            assert_eq!((checked, refused), (5, 25), "{statuses:?}");
            // The right password afterwards is refused too, on either instance.
            for app in [&one, &two] {
                let (c, token) = ready(app).await;
                let resp = post_login(&c, app, &token, "alice", PASSWORD, None).await;
                assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
            }
        });
    }
}

/// Polls every future to the end, concurrently.
async fn futures_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("done")).collect()
}

backend_test! {
    fn the_lockout_answer_says_when_to_try_again(db) {
        let app = spawn(&db, |s| s.login_failure_limit = 2);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            for _ in 0..2 {
                let (c, token) = ready(&app).await;
                assert_eq!(post_login(&c, &app, &token, "alice", "wrong", None).await.status(), StatusCode::UNAUTHORIZED);
            }
            let (c, token) = ready(&app).await;
            let resp = post_login(&c, &app, &token, "alice", PASSWORD, None).await;
            assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
            let retry: i64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=300).contains(&retry), "Retry-After {retry}");
            let html = resp.text().await.unwrap();
            assert!(html.contains("Too many failed login attempts."), "{html}");
            assert!(html.contains("id=\"unlock\""), "{html}");
            assert!(html.contains("name=\"username\""), "the form is shown again: {html}");
        });
    }
}

backend_test! {
    fn random_usernames_from_one_address_hit_the_address_limit(db) {
        let app = spawn(&db, |s| s.login_address_failure_limit = 10);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            for i in 0..10 {
                let (c, token) = ready(&app).await;
                let resp = post_login(&c, &app, &token, &format!("random{i}"), "x", None).await;
                assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
            }
            let (c, token) = ready(&app).await;
            assert_eq!(post_login(&c, &app, &token, "random-next", "x", None).await.status(), StatusCode::TOO_MANY_REQUESTS);
            // Real users from that address are refused as well: the address is locked.
            let (c, token) = ready(&app).await;
            assert_eq!(post_login(&c, &app, &token, "alice", PASSWORD, None).await.status(), StatusCode::TOO_MANY_REQUESTS);
        });
    }
}

backend_test! {
    fn forwarded_addresses_count_only_behind_a_trusted_proxy(db) {
        // Behind a trusted proxy (the test client is 127.0.0.1): each client address
        // has its own counter, so one attacker does not lock out everyone.
        let proxied = spawn(&db, |s| {
            s.trusted_proxies = sodarcache::auth::address::TrustedProxies::parse("127.0.0.1").unwrap();
            s.login_failure_limit = 3;
        });
        fx::user(&mut proxied.conn(), "alice", false);
        run(async {
            for _ in 0..3 {
                let (c, token) = ready(&proxied).await;
                let r = post_login(&c, &proxied, &token, "alice", "wrong", Some("203.0.113.9")).await;
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            }
            let (c, token) = ready(&proxied).await;
            let r = post_login(&c, &proxied, &token, "alice", PASSWORD, Some("203.0.113.9")).await;
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the attacker's address is locked");
            let (c, token) = ready(&proxied).await;
            let r = post_login(&c, &proxied, &token, "alice", PASSWORD, Some("198.51.100.7, 127.0.0.1")).await;
            assert_redirect_to(&r, "/cache/");
        });
    }
}

backend_test! {
    fn forwarded_headers_from_untrusted_peers_are_ignored(db) {
        let app = spawn(&db, |s| s.login_failure_limit = 3);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            for i in 0..3 {
                let (c, token) = ready(&app).await;
                let xff = format!("198.51.100.{i}");
                let r = post_login(&c, &app, &token, "alice", "wrong", Some(&xff)).await;
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            }
            // A fresh forged address does not escape the lock of the real peer.
            let (c, token) = ready(&app).await;
            let r = post_login(&c, &app, &token, "alice", PASSWORD, Some("192.0.2.200")).await;
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        });
    }
}

fn guard(limit: u32, checks: usize) -> LoginGuard {
    LoginGuard::new(
        Policy {
            failure_limit: limit,
            address_failure_limit: 1000,
            cooloff: Duration::from_secs(300),
        },
        checks,
    )
}

const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

backend_test! {
    fn counting_and_checking_is_one_step_for_concurrent_callers(db) {
        let pool = db.pool();
        fx::user(&mut pool.get().unwrap(), "alice", false);
        let guard = std::sync::Arc::new(guard(5, 4));
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
        let verdicts = rt.block_on(async {
            let tasks: Vec<_> = (0..24)
                .map(|_| {
                    let (guard, pool) = (guard.clone(), pool.clone());
                    tokio::spawn(async move {
                        guard.check(&pool, Duration::from_secs(30), HERE, "alice", "wrong".into()).await
                    })
                })
                .collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap().unwrap());
            }
            out
        });
        let rejected = verdicts.iter().filter(|v| matches!(v, Verdict::Rejected)).count();
        let locked = verdicts.iter().filter(|v| matches!(v, Verdict::LockedOut { .. })).count();
        assert_eq!((rejected, locked), (5, 19), "{verdicts:?}");
    }
}

backend_test! {
    fn a_check_that_cannot_start_in_time_is_busy_and_not_counted(db) {
        let pool = db.pool();
        fx::user(&mut pool.get().unwrap(), "alice", false);
        let guard = guard(5, 1);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let held = guard.try_hold_check().expect("the one slot");
        assert!(guard.try_hold_check().is_none(), "only one check at a time");
        let busy = rt.block_on(guard.check(&pool, Duration::from_secs(1), HERE, "alice", PASSWORD.into()));
        match busy {
            Err(e @ sodarcache::Error::Busy(_)) => assert_eq!(e.retry_after(), Some(1)),
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(held);
        // Nothing was counted: five wrong attempts are still allowed, then the lock.
        for _ in 0..5 {
            let v = rt.block_on(guard.check(&pool, Duration::from_secs(30), HERE, "alice", "wrong".into())).unwrap();
            assert!(matches!(v, Verdict::Rejected), "{v:?}");
        }
        let v = rt.block_on(guard.check(&pool, Duration::from_secs(30), HERE, "alice", PASSWORD.into())).unwrap();
        assert!(matches!(v, Verdict::LockedOut { .. }), "{v:?}");
    }
}

backend_test! {
    fn failure_counters_are_pruned_on_a_schedule(db) {
        let app = spawn(&db, |s| s.login_cooloff = Duration::from_secs(2));
        run(async {
            let (c, token) = ready(&app).await;
            assert_eq!(post_login(&c, &app, &token, "nobody", "x", None).await.status(), StatusCode::UNAUTHORIZED);
        });
        assert!(LoginFailures::count_rows(&mut app.conn()).unwrap() > 0);
        // No successful login follows; the server's own schedule removes them.
        let gone = run(poll(Duration::from_secs(60), || {
            (LoginFailures::count_rows(&mut app.conn()).unwrap() == 0).then_some(())
        }));
        assert!(gone.is_some(), "counters older than the cool-off are still there");
    }
}
