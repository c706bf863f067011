//! The in-memory cache of large item bodies (`api::body_cache`): a retrieve of an
//! unchanged large item sends its data across the database connection once, and a
//! write by another instance is still seen by the very next retrieve (every request asks
//! the database for the data's digest).

mod common;
#[path = "reliability/mod.rs"]
mod reliability;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sodarcache::plugins::PluginRegistry;

use common::{TestApp, TestDb};
use reliability::pgwire::CountingProxy;
use reliability::proxy::pg_host_port;
use reliability::{APP, World, api_client, retrieve, runtime, set};

const REQUESTS: usize = 10;

/// About 1 MiB of JSON; `fill` tells versions apart.
fn large(fill: char) -> Value {
    json!({ "payload": fill.to_string().repeat(1 << 20) })
}

fn backends() -> Vec<TestDb> {
    let mut dbs = vec![TestDb::sqlite()];
    dbs.extend(TestDb::postgres());
    dbs
}

#[test]
fn a_large_item_read_again_crosses_the_postgresql_connection_once() {
    let Some(db) = TestDb::postgres() else { return };
    let world = World::create(&mut db.pool().get().expect("conn"));
    let rt = runtime();
    let (upstream, with_host) = pg_host_port(&db.url);
    let proxy = rt.block_on(CountingProxy::start(upstream));
    let mut url = with_host(&proxy.addr.to_string());
    url.push_str(if url.contains('?') { "&" } else { "?" });
    url.push_str("sslmode=disable");
    let app = TestApp::spawn(&db, PluginRegistry::builder(), |s| {
        s.database_url = url;
        s.worker_poll = Duration::from_secs(3600);
    });
    let client = api_client(&world.token, Duration::from_secs(60));
    let base = app.addr.clone();
    let data = large('a');

    let (round_trips, bytes) = rt.block_on(async {
        let r = set(&client, &base, &world.project, "big", &data)
            .await
            .expect("set");
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let first = retrieve(&client, &base, &world.project, "big")
            .await
            .expect("first retrieve");
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(first.body["data"], data);
        // The second read takes the statement of kept gate rows (auth::token_grants),
        // prepared on its first use: steady state from the third on.
        let second = retrieve(&client, &base, &world.project, "big")
            .await
            .expect("second retrieve");
        assert_eq!(second.body, first.body);
        let before = proxy.snapshot();
        let bytes_before = proxy.bytes_from_server();
        for _ in 0..REQUESTS {
            let r = retrieve(&client, &base, &world.project, "big")
                .await
                .expect("retrieve");
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(r.body, first.body);
        }
        (
            proxy.snapshot().since(before).round_trips,
            proxy.bytes_from_server() - bytes_before,
        )
    });
    assert_eq!(round_trips, REQUESTS, "one round trip per retrieve");
    // Each answer is one row without the data: far under a kilobyte.
    assert!(
        bytes < REQUESTS * 2048,
        "{REQUESTS} retrieves of a 1 MiB item received {bytes} bytes from PostgreSQL"
    );
}

#[test]
fn a_write_by_another_instance_is_seen_by_the_next_retrieve() {
    for db in backends() {
        let world = World::create(&mut db.pool().get().expect("conn"));
        let reader = TestApp::spawn(&db, PluginRegistry::builder(), |_| {});
        let writer = TestApp::spawn(&db, PluginRegistry::builder(), |_| {});
        let client = api_client(&world.token, Duration::from_secs(60));
        let (a, b) = (large('a'), large('b'));
        let url = format!(
            "{}/cache/api/retrieve/{}/{APP}/big",
            reader.addr, world.project.uuid
        );
        reliability::run(async {
            let get = || async {
                let r = client.get(&url).send().await.expect("retrieve");
                let status = r.status();
                let etag = r
                    .headers()
                    .get("etag")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body: Value = r.json().await.expect("json");
                (status, etag, body)
            };
            let r = set(&client, &writer.addr, &world.project, "big", &a)
                .await
                .expect("set a");
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            let (_, tag_a, first) = get().await;
            assert_eq!(first["data"], a);
            // Kept now: the same answer again.
            let (status, tag, again) = get().await;
            assert_eq!((status, &tag), (StatusCode::OK, &tag_a));
            assert_eq!(again, first);

            let r = set(&client, &writer.addr, &world.project, "big", &b)
                .await
                .expect("set b");
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            let (status, tag_b, changed) = get().await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(changed["data"], b, "{}: the other instance's write", db.url);
            assert_ne!(tag_b, tag_a);
            let (_, _, kept) = get().await;
            assert_eq!(kept["data"], b);

            // Back to the first data: the kept body is b's, the answer a's.
            let r = set(&client, &writer.addr, &world.project, "big", &a)
                .await
                .expect("set a again");
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            let (_, _, back) = get().await;
            assert_eq!(back["data"], a);

            let gone = client
                .delete(format!(
                    "{}/cache/api/delete/{}/{APP}/big",
                    writer.addr, world.project.uuid
                ))
                .send()
                .await
                .expect("delete");
            assert!(gone.status().is_success(), "{}", gone.status());
            let (status, _, _) = get().await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{}: deleted elsewhere",
                db.url
            );
        });
    }
}

#[test]
fn with_the_cache_off_large_items_are_read_as_before() {
    for db in backends() {
        let world = World::create(&mut db.pool().get().expect("conn"));
        let app = TestApp::spawn(&db, PluginRegistry::builder(), |s| s.body_cache_bytes = 0);
        let client = api_client(&world.token, Duration::from_secs(60));
        let data = large('c');
        reliability::run(async {
            set(&client, &app.addr, &world.project, "big", &data)
                .await
                .expect("set");
            for _ in 0..2 {
                let r = retrieve(&client, &app.addr, &world.project, "big")
                    .await
                    .expect("retrieve");
                assert_eq!(r.status, StatusCode::OK);
                assert_eq!(r.body["data"], data);
            }
        });
    }
}
