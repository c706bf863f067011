//! The database goes away under load and comes back (PostgreSQL only: a SQLite file
//! does not go away). The server reaches PostgreSQL through a TCP proxy in the test
//! that is cut (live connections dropped, new ones closed) and restored.
//!
//! While it is cut: requests get a 503 with a JSON `detail`, never a 500, never a hang;
//! `/healthz` says 503. After it is restored: the server heals by itself within seconds
//! (`/healthz` 200, writes 200), and every acknowledged write is still there.

mod common;
#[path = "reliability/mod.rs"]
mod reliability;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sodarcache::db::Scope;
use sodarcache::db::models::CacheItem;
use sodarcache::plugins::PluginRegistry;

use common::{TestApp, TestDb};
use reliability::proxy::{Proxy, pg_host_port};
use reliability::{APP, World, api_client, healthz, retrieve, runtime, set};

const WRITERS: usize = 8;
/// The server's wait for a pooled connection before it answers 503.
const DB_TIMEOUT: Duration = Duration::from_secs(1);
/// No request may take longer than this while the database is away.
const MAX_LATENCY: Duration = Duration::from_secs(4);

/// One request: when it ran, what came back.
#[derive(Debug)]
struct Sample {
    seq: u64,
    started: Instant,
    ended: Instant,
    status: Option<StatusCode>,
    json_detail: bool,
    error: Option<String>,
}

impl Sample {
    fn took(&self) -> Duration {
        self.ended - self.started
    }
}

/// When the database went away, came back, and the server said it was healthy again.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    cut: Instant,
    restored: Instant,
    healed: Instant,
}

impl Timeline {
    /// The request ran entirely before the outage.
    fn before(&self, ended: Instant) -> bool {
        ended < self.cut
    }

    /// The request ran entirely while the database was away.
    fn during(&self, started: Instant, ended: Instant) -> bool {
        started > self.cut && ended < self.restored
    }

    /// The request started after the server reported itself healthy again.
    fn after(&self, started: Instant) -> bool {
        started > self.healed
    }
}

#[test]
fn database_outage_gives_503_then_heals_without_losing_acknowledged_writes() {
    let Some(db) = TestDb::postgres() else { return };
    let world = World::create(&mut db.pool().get().expect("conn"));

    let rt = runtime();
    let (upstream, with_host) = pg_host_port(&db.url);
    let proxy = rt.block_on(Proxy::start(upstream));
    let proxied_url = with_host(&proxy.addr.to_string());
    assert!(
        proxied_url.ends_with(db.url.rsplit('/').next().unwrap()),
        "same database name"
    );
    let app = TestApp::spawn(&db, PluginRegistry::builder(), |s| {
        s.database_url = proxied_url.clone();
        s.db_timeout = DB_TIMEOUT;
        s.pool_size = 6;
    });
    let client = api_client(&world.token, Duration::from_secs(15));
    let base = app.addr.clone();

    let (writers, health, timeline) = rt.block_on(async {
        // Writers: each on its own key, sequentially, until told to stop.
        let stop = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let (client, base, project, stop) = (
                client.clone(),
                base.clone(),
                world.project.clone(),
                stop.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let key = format!("key-{w}");
                let mut samples = Vec::new();
                let mut seq = 0;
                let stopped = stop.notified();
                tokio::pin!(stopped);
                loop {
                    seq += 1;
                    let started = Instant::now();
                    let r = set(&client, &base, &project, &key, &json!({ "seq": seq })).await;
                    let ended = Instant::now();
                    samples.push(match r {
                        Ok(r) => Sample {
                            seq,
                            started,
                            ended,
                            status: Some(r.status),
                            json_detail: r.json && r.body["detail"].is_string(),
                            error: None,
                        },
                        Err(e) => Sample {
                            seq,
                            started,
                            ended,
                            status: None,
                            json_detail: false,
                            error: Some(e.to_string()),
                        },
                    });
                    tokio::select! {
                        _ = &mut stopped => break,
                        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    }
                }
                (key, samples)
            }));
        }
        // /healthz every 100 ms: (started, ended, status).
        let health = {
            let (client, base, stop) = (client.clone(), base.clone(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let stopped = stop.notified();
                tokio::pin!(stopped);
                loop {
                    let started = Instant::now();
                    let s = healthz(&client, &base).await.ok();
                    seen.push((started, Instant::now(), s));
                    tokio::select! {
                        _ = &mut stopped => break,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
                seen
            })
        };

        tokio::time::sleep(Duration::from_millis(1000)).await;
        let cut = Instant::now();
        proxy.cut();
        // Requests that started just before the cut may still succeed; let them finish.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let during = healthz(&client, &base)
            .await
            .expect("healthz answers while the database is away");
        assert_eq!(
            during,
            StatusCode::SERVICE_UNAVAILABLE,
            "/healthz while the database is away"
        );
        // Reads too: a 503 with a JSON detail, in about the pool's wait.
        let asked = Instant::now();
        let read = retrieve(&client, &base, &world.project, "key-0")
            .await
            .expect("retrieve answers while the database is away");
        assert_eq!(
            read.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{:?}",
            read.body
        );
        assert_eq!(read.body, json!({ "detail": "Database unavailable" }));
        assert!(asked.elapsed() < MAX_LATENCY);

        let restored = Instant::now();
        proxy.restore();
        // The server heals by itself: /healthz turns 200 within a few seconds.
        let healed = loop {
            let asked = Instant::now();
            if healthz(&client, &base).await.ok() == Some(StatusCode::OK) {
                eprintln!(
                    "healthy again {:?} after the database came back",
                    restored.elapsed()
                );
                break asked;
            }
            assert!(
                restored.elapsed() < Duration::from_secs(8),
                "server did not recover within 8 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // Keep writing a while after the recovery.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        stop.notify_waiters();
        let mut writers = Vec::new();
        for t in tasks {
            writers.push(t.await.expect("writer"));
        }
        let timeline = Timeline {
            cut,
            restored,
            healed,
        };
        (writers, health.await.expect("health poller"), timeline)
    });

    // Every request answered, quickly, with 200 or 503 (with a JSON detail); never a
    // 500. Before the outage 200, during it 503, after the server said it was healthy
    // 200; requests that straddled a boundary may get either.
    let t = timeline;
    let mut counts = [[0usize; 3]; 4]; // (before, during, after, straddling) × (200, 503, other)
    let mut problems = Vec::new();
    for (key, samples) in &writers {
        for s in samples {
            let class = match s.status {
                Some(StatusCode::OK) => 0,
                Some(StatusCode::SERVICE_UNAVAILABLE) => 1,
                _ => 2,
            };
            let when = if t.before(s.ended) {
                0
            } else if t.during(s.started, s.ended) {
                1
            } else if t.after(s.started) {
                2
            } else {
                3
            };
            counts[when][class] += 1;
            let expected = match when {
                0 | 2 => class == 0,
                1 => class == 1,
                _ => class < 2,
            };
            if !expected {
                problems.push(format!(
                    "{key} #{} (period {when}): {:?} {:?}",
                    s.seq, s.status, s.error
                ));
            }
            if class == 1 && !s.json_detail {
                problems.push(format!("{key} #{}: 503 without a JSON detail", s.seq));
            }
            if s.took() > MAX_LATENCY {
                problems.push(format!(
                    "{key} #{} (period {when}) took {:?}",
                    s.seq,
                    s.took()
                ));
            }
        }
    }
    eprintln!("writes (before, during, after, straddling) × (200, 503, other): {counts:?}");
    eprintln!(
        "proxy: {} connections forwarded, {} closed while cut",
        proxy.accepted(),
        proxy.refused()
    );
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(counts[0][0] > 0, "writes went through before the outage");
    assert!(counts[1][1] > 0, "writes got 503 during the outage");
    assert!(counts[2][0] > 0, "writes went through after the recovery");

    // /healthz told the truth throughout, and always answered quickly.
    for (started, ended, status) in &health {
        assert!(status.is_some(), "/healthz always answers");
        assert!(
            *ended - *started <= MAX_LATENCY,
            "/healthz took {:?}",
            *ended - *started
        );
        if t.before(*ended) || t.after(*started) {
            assert_eq!(
                *status,
                Some(StatusCode::OK),
                "/healthz while the database is up"
            );
        } else if t.during(*started, *ended) {
            assert_eq!(
                *status,
                Some(StatusCode::SERVICE_UNAVAILABLE),
                "/healthz while it is away"
            );
        }
    }
    assert!(
        health
            .iter()
            .any(|(s, e, st)| t.during(*s, *e) && *st == Some(StatusCode::SERVICE_UNAVAILABLE))
    );

    // No acknowledged write was lost: each key holds its writer's last acknowledged
    // value or a later attempt (one whose reply was a 503 may have been applied).
    let conn = &mut **db.pool().get().expect("direct connection");
    for (key, samples) in &writers {
        let last_acked = samples
            .iter()
            .filter(|s| s.status == Some(StatusCode::OK))
            .map(|s| s.seq)
            .max()
            .unwrap();
        let item = CacheItem::find(conn, Scope::from(&world.project), APP, key)
            .expect("find")
            .expect("item exists");
        let stored = item.data.to_value()["seq"].as_u64().expect("seq");
        assert!(
            stored >= last_acked,
            "{key}: stored #{stored}, but #{last_acked} was acknowledged"
        );
        assert!(
            stored <= samples.last().unwrap().seq,
            "{key}: stored a write never sent"
        );
    }
    drop(app);
    drop(rt);
}
