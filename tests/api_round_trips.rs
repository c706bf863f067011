//! How many times one request waits for PostgreSQL (the network round trips that bound
//! a request's speed when the database is elsewhere), counted on the wire by a proxy
//! that reads the client side of PostgreSQL's protocol. Steady state: after a few
//! warm-up requests (connections open, statements prepared), with the job worker's
//! idle polling pushed out of the way. The load benchmarks give the speed; this pins
//! the design so it cannot regress silently.

mod common;
#[path = "reliability/mod.rs"]
mod reliability;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sodarcache::plugins::PluginRegistry;

use common::{TestApp, TestDb};
use reliability::pgwire::{CountingProxy, Snapshot};
use reliability::proxy::pg_host_port;
use reliability::{APP, World, api_client, healthz, retrieve, runtime, set};

const REQUESTS: usize = 10;

/// A server on `db` whose every database connection goes through a counting proxy.
fn proxied_app(db: &TestDb, rt: &tokio::runtime::Runtime) -> (TestApp, CountingProxy) {
    let (upstream, with_host) = pg_host_port(&db.url);
    let proxy = rt.block_on(CountingProxy::start(upstream));
    let mut url = with_host(&proxy.addr.to_string());
    url.push_str(if url.contains('?') { "&" } else { "?" });
    url.push_str("sslmode=disable");
    let app = TestApp::spawn(db, PluginRegistry::builder(), |s| {
        s.database_url = url;
        s.worker_poll = Duration::from_secs(3600);
    });
    (app, proxy)
}

#[test]
fn one_retrieve_is_one_round_trip_to_postgresql() {
    let Some(db) = TestDb::postgres() else { return };
    let world = World::create(&mut db.pool().get().expect("conn"));
    let rt = runtime();
    let (app, proxy) = proxied_app(&db, &rt);
    let client = api_client(&world.token, Duration::from_secs(30));
    let base = app.addr.clone();

    let counted: Snapshot = rt.block_on(async {
        let r = set(&client, &base, &world.project, "item", &json!({"a": 1}))
            .await
            .expect("set");
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        for _ in 0..3 {
            let r = retrieve(&client, &base, &world.project, "item")
                .await
                .expect("warm-up");
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
        let before = proxy.snapshot();
        for _ in 0..REQUESTS {
            let r = retrieve(&client, &base, &world.project, "item")
                .await
                .expect("retrieve");
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            assert_eq!(r.body["data"], json!({"a": 1}));
        }
        proxy.snapshot().since(before)
    });
    assert_eq!(
        counted,
        Snapshot {
            round_trips: REQUESTS,
            parses: 0,
            connections: 0
        },
        "{REQUESTS} retrieves: one round trip each, no statement prepared again, no new connection"
    );
}

#[test]
fn one_retrieve_date_and_one_healthz_are_one_round_trip_each() {
    let Some(db) = TestDb::postgres() else { return };
    let world = World::create(&mut db.pool().get().expect("conn"));
    let rt = runtime();
    let (app, proxy) = proxied_app(&db, &rt);
    let client = api_client(&world.token, Duration::from_secs(30));
    let base = app.addr.clone();
    let date_url = format!(
        "{base}/cache/api/retrieve/date/{}/{APP}/item",
        world.project.uuid
    );

    let (date, health) = rt.block_on(async {
        set(&client, &base, &world.project, "item", &json!(1))
            .await
            .expect("set");
        for _ in 0..3 {
            client.get(&date_url).send().await.expect("warm-up");
            healthz(&client, &base).await.expect("warm-up");
        }
        let before = proxy.snapshot();
        for _ in 0..REQUESTS {
            let r = client.get(&date_url).send().await.expect("date");
            assert_eq!(r.status(), StatusCode::OK);
        }
        let middle = proxy.snapshot();
        for _ in 0..REQUESTS {
            assert_eq!(
                healthz(&client, &base).await.expect("healthz"),
                StatusCode::OK
            );
        }
        (middle.since(before), proxy.snapshot().since(middle))
    });
    assert_eq!(date.round_trips, REQUESTS, "retrieve/date: {date:?}");
    assert_eq!(health.round_trips, REQUESTS, "/healthz: {health:?}");
}

#[test]
fn one_set_is_the_gate_then_the_write_and_its_event_in_one_statement() {
    let Some(db) = TestDb::postgres() else { return };
    let world = World::create(&mut db.pool().get().expect("conn"));
    let rt = runtime();
    let (app, proxy) = proxied_app(&db, &rt);
    let client = api_client(&world.token, Duration::from_secs(30));
    let base = app.addr.clone();

    let counted = rt.block_on(async {
        for i in 0..3 {
            let r = set(&client, &base, &world.project, "item", &json!(i))
                .await
                .expect("warm-up");
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
        let before = proxy.snapshot();
        for i in 0..REQUESTS {
            let r = set(&client, &base, &world.project, "item", &json!(i))
                .await
                .expect("set");
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
        proxy.snapshot().since(before)
    });
    // The gate (one statement), then the write and its activity event in one statement
    // (no BEGIN, no COMMIT: a single statement is its own transaction).
    assert_eq!(counted.round_trips, 2 * REQUESTS, "{counted:?}");
    assert_eq!(counted.parses, 0, "{counted:?}");
    assert_eq!(counted.connections, 0, "{counted:?}");
}
