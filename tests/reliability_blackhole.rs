//! The network to PostgreSQL turns into a black hole (PostgreSQL only): the proxy in
//! the test keeps every connection open but forwards nothing, as a dead path that
//! drops packets does. Nothing tells the server the database is gone.
//!
//! While it lasts: `/healthz` and the REST endpoints answer 503 with a JSON detail
//! within `SODARCACHE_DB_TIMEOUT_SECONDS` plus a small margin, never after the outage.
//! After it: the server is healthy again by itself and writes go through.

mod common;
#[path = "reliability/mod.rs"]
mod reliability;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sodarcache::plugins::PluginRegistry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{TestApp, TestDb};
use reliability::proxy::{Proxy, pg_host_port};
use reliability::{World, api_client, healthz, retrieve, runtime, set};

/// The server's database timeout.
const DB_TIMEOUT: Duration = Duration::from_secs(2);
/// What the server promises: the timeout plus its one-second margin.
const PROMISED: Duration = Duration::from_secs(3);
/// Headroom on top for a loaded test machine: answers must still come long before
/// the black hole ends (it lasts until every answer is in, and clients give up at 60 s).
const HEADROOM: Duration = Duration::from_secs(7);

#[test]
fn the_proxy_black_holes_traffic_until_restored() {
    runtime().block_on(async {
        let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = echo.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        if s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let proxy = Proxy::start(upstream).await;
        let mut c = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        let mut buf = [0u8; 4];
        c.write_all(b"ping").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");

        proxy.stall();
        c.write_all(b"lost").await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf)).await;
        assert!(answer.is_err(), "stalled, yet an answer came: {answer:?}");
        // New connections are accepted and then hear nothing either.
        let mut d = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        d.write_all(b"new!").await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(2), d.read(&mut buf)).await;
        assert!(
            answer.is_err(),
            "stalled, yet a new connection was answered"
        );

        proxy.restore();
        // Held bytes flow again, in order, on both connections.
        tokio::time::timeout(Duration::from_secs(30), c.read_exact(&mut buf))
            .await
            .expect("answer after restore")
            .unwrap();
        assert_eq!(&buf, b"lost");
        tokio::time::timeout(Duration::from_secs(30), d.read_exact(&mut buf))
            .await
            .expect("answer after restore")
            .unwrap();
        assert_eq!(&buf, b"new!");
    });
}

#[test]
fn a_black_holed_database_gives_503_within_the_timeout_and_the_server_heals() {
    let Some(db) = TestDb::postgres() else { return };
    let world = World::create(&mut db.pool().get().expect("conn"));
    let rt = runtime();
    let (upstream, with_host) = pg_host_port(&db.url);
    let proxy = rt.block_on(Proxy::start(upstream));
    let app = TestApp::spawn(&db, PluginRegistry::builder(), |s| {
        s.database_url = with_host(&proxy.addr.to_string());
        s.db_timeout = DB_TIMEOUT;
        s.pool_size = 4;
    });
    let client = api_client(&world.token, Duration::from_secs(60));
    let base = app.addr.clone();
    let project = world.project.clone();
    let list_url = format!("{base}/cache/api/list/{}", project.uuid);

    rt.block_on(async {
        // Warm: the pool holds live connections, which are about to go silent.
        let r = set(&client, &base, &project, "k", &json!(1)).await.unwrap();
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let warm: Vec<_> = (0..4)
            .map(|_| {
                let (client, base) = (client.clone(), base.clone());
                tokio::spawn(async move { healthz(&client, &base).await })
            })
            .collect();
        for status in warm {
            assert_eq!(status.await.unwrap().unwrap(), StatusCode::OK);
        }

        proxy.stall();
        let started = Instant::now();
        let mut asks = Vec::new();
        for i in 0..3 {
            let (client, base, project, list_url) = (
                client.clone(),
                base.clone(),
                project.clone(),
                list_url.clone(),
            );
            asks.push(tokio::spawn(async move {
                let t = Instant::now();
                let health = healthz(&client, &base).await.map(|s| (s, json!(null)));
                let h = ("healthz", health, t.elapsed());
                let t = Instant::now();
                let list = client.get(&list_url).send().await;
                let list = match list {
                    Ok(r) => Ok((r.status(), r.json().await.unwrap_or(json!(null)))),
                    Err(e) => Err(e),
                };
                let l = ("list", list, t.elapsed());
                let t = Instant::now();
                let read = retrieve(&client, &base, &project, "k")
                    .await
                    .map(|r| (r.status, r.body));
                let g = ("retrieve", read, t.elapsed());
                let t = Instant::now();
                let write = set(&client, &base, &project, &format!("w{i}"), &json!(i)).await;
                let w = ("set", write.map(|r| (r.status, r.body)), t.elapsed());
                [h, l, g, w]
            }));
        }
        let mut problems = Vec::new();
        for ask in asks {
            for (what, answer, took) in ask.await.unwrap() {
                match answer {
                    Ok((StatusCode::SERVICE_UNAVAILABLE, body)) => {
                        if what != "healthz" && body != json!({ "detail": "Database unavailable" })
                        {
                            problems.push(format!("{what}: 503 body {body}"));
                        }
                    }
                    other => problems.push(format!("{what}: {other:?}")),
                }
                eprintln!("{what}: 503 after {took:?}");
                // The first database step of every request is the checkout, bounded
                // by the promise; `set` takes a second one for the write.
                let limit = if what == "set" {
                    PROMISED * 2
                } else {
                    PROMISED
                };
                if took > limit + HEADROOM {
                    problems.push(format!("{what} took {took:?}"));
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(
            healthz(&client, &base).await.unwrap(),
            StatusCode::SERVICE_UNAVAILABLE,
            "/healthz tells the truth while the black hole lasts"
        );
        eprintln!("black hole lasted {:?}", started.elapsed());

        proxy.restore();
        let deadline = Instant::now() + Duration::from_secs(60);
        while healthz(&client, &base).await.ok() != Some(StatusCode::OK) {
            assert!(
                Instant::now() < deadline,
                "not healthy a minute after the network came back"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let r = set(&client, &base, &project, "after", &json!(2))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    });
    drop(app);
    drop(rt);
}
