//! Concurrent writers over HTTP: 32 clients for a few seconds, half on one shared key
//! and half each on a key of its own. Every acknowledged write is readable afterwards
//! (each own key holds its writer's last acknowledged value; the shared key holds the
//! last acknowledged value of one of its writers), there is exactly one row per key,
//! and no request fails.

mod common;
#[path = "reliability/mod.rs"]
mod reliability;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sodarcache::db::Scope;
use sodarcache::db::models::CacheItem;
use sodarcache::plugins::PluginRegistry;

use common::TestApp;
use reliability::{APP, World, api_client, retrieve, run, set};

const WRITERS: usize = 32;
const RUN_FOR: Duration = Duration::from_millis(2500);
const SHARED: &str = "shared";

/// What one writer did: its key, its last acknowledged sequence number, and counts.
#[derive(Debug)]
struct Log {
    writer: usize,
    key: String,
    last_acked: Option<u64>,
    acked: u64,
    failures: Vec<String>,
}

backend_test! {
    fn every_acknowledged_write_is_readable_and_one_row_per_key(db) {
        let world = World::create(&mut db.pool().get().expect("conn"));
        // A pool smaller than the writers, so requests also queue for connections.
        let app = TestApp::spawn(&db, PluginRegistry::builder(), |s| s.pool_size = 8);
        let client = api_client(&world.token, Duration::from_secs(20));
        let base = app.addr.clone();

        let logs: Vec<Log> = run(async {
            let deadline = Instant::now() + RUN_FOR;
            let mut tasks = Vec::new();
            for writer in 0..WRITERS {
                let (client, base, project) = (client.clone(), base.clone(), world.project.clone());
                let key = if writer % 2 == 0 { SHARED.to_owned() } else { format!("own-{writer}") };
                tasks.push(tokio::spawn(async move {
                    let mut log = Log { writer, key, last_acked: None, acked: 0, failures: Vec::new() };
                    let mut seq = 0u64;
                    while Instant::now() < deadline {
                        seq += 1;
                        let data = json!({ "writer": writer, "seq": seq, "pad": "x".repeat(64) });
                        match set(&client, &base, &project, &log.key, &data).await {
                            Ok(r) if r.status == 200 && r.body == json!({ "detail": "ok" }) => {
                                log.last_acked = Some(seq);
                                log.acked += 1;
                            }
                            Ok(r) => log.failures.push(format!("{}: {}", r.status, r.body)),
                            Err(e) => log.failures.push(format!("transport: {e}")),
                        }
                    }
                    log
                }));
            }
            let mut logs = Vec::new();
            for t in tasks {
                logs.push(t.await.expect("writer task"));
            }
            logs
        });

        let failures: Vec<String> = logs
            .iter()
            .flat_map(|l| l.failures.iter().map(move |f| format!("writer {}: {f}", l.writer)))
            .collect();
        assert!(failures.is_empty(), "{} failed writes, first: {:?}", failures.len(), &failures[..failures.len().min(5)]);
        let total: u64 = logs.iter().map(|l| l.acked).sum();
        assert!(logs.iter().all(|l| l.acked > 0), "every writer got at least one write through");
        eprintln!("{total} acknowledged writes by {WRITERS} writers in {RUN_FOR:?}");

        // Read everything back over HTTP.
        let read: BTreeMap<String, Value> = run(async {
            let mut read = BTreeMap::new();
            for log in &logs {
                if read.contains_key(&log.key) {
                    continue;
                }
                let r = retrieve(&client, &base, &world.project, &log.key).await.expect("retrieve");
                assert_eq!(r.status, 200, "retrieve {}: {}", log.key, r.body);
                read.insert(log.key.clone(), r.body["data"].clone());
            }
            read
        });
        for log in logs.iter().filter(|l| l.key != SHARED) {
            assert_eq!(
                read[&log.key],
                json!({ "writer": log.writer, "seq": log.last_acked.unwrap(), "pad": "x".repeat(64) }),
                "{} holds its writer's last acknowledged write",
                log.key
            );
        }
        // The shared key: the last acknowledged write of one of its writers (each writer
        // is sequential, so an earlier write of a writer can never be the last one).
        let shared = &read[SHARED];
        let w = shared["writer"].as_u64().expect("writer") as usize;
        let writer = logs.iter().find(|l| l.writer == w && l.key == SHARED).expect("a shared-key writer");
        assert_eq!(shared["seq"].as_u64(), writer.last_acked, "shared key holds writer {w}'s last write");

        // Exactly one row per key, and no stray keys.
        let conn = &mut **app.conn();
        let rows = CacheItem::list_for_scope(conn, Scope::from(&world.project)).expect("list");
        let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &rows {
            assert_eq!(r.app_name, APP);
            *per_key.entry(r.name.as_str()).or_default() += 1;
        }
        assert_eq!(per_key.len(), WRITERS / 2 + 1, "{per_key:?}");
        assert!(per_key.values().all(|&n| n == 1), "{per_key:?}");
        for (key, data) in &read {
            let row = rows.iter().find(|r| &r.name == key).expect("row");
            assert_eq!(&row.data.to_value(), data, "{key}: HTTP and database agree");
        }
    }
}
