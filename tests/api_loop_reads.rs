//! A token caller's REST reads on SQLite run on the event loop (`db::loop_reads`): no
//! pooled connection, no hop to a blocking thread. These pin what that must keep: the
//! next request sees every write and every revocation, and it works while the pool has
//! nothing to give. PostgreSQL reads always take the pool. (That such a read never
//! waits on a lock, and is then read the ordinary way, is `db::loop_reads`'s unit test.)

mod common;
#[path = "reliability/mod.rs"]
mod reliability;

use std::time::{Duration, Instant};

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;
use sodarcache::db::schema::role_assignments;
use sodarcache::plugins::PluginRegistry;

use common::{Backend, TestApp, TestDb};
use reliability::{World, api_client, retrieve, runtime, set};

fn app(db: &TestDb, pool_size: u32) -> TestApp {
    TestApp::spawn(db, PluginRegistry::builder(), |s| {
        s.pool_size = pool_size;
        s.db_timeout = Duration::from_secs(2);
        // The job worker would take the pool's connection now and then.
        s.worker_poll = Duration::from_secs(3600);
    })
}

backend_test! {
    fn every_write_and_revocation_is_seen_by_the_next_token_read(db) {
        let app = app(&db, 4);
        let world = World::create(&mut app.conn());
        let client = api_client(&world.token, Duration::from_secs(30));
        runtime().block_on(async {
            for n in 0..5 {
                let r = set(&client, &app.addr, &world.project, "item", &json!({"n": n})).await.unwrap();
                assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
                let r = retrieve(&client, &app.addr, &world.project, "item").await.unwrap();
                assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
                assert_eq!(r.body["data"], json!({"n": n}), "write {n} seen by the next read");
            }
            let date = client
                .get(app.url(&format!("/cache/api/retrieve/date/{}/{}/item", world.project.uuid, reliability::APP)))
                .send()
                .await
                .unwrap();
            assert_eq!(date.status(), StatusCode::OK);
            // Every role of the owner (the category's reaches the project too).
            diesel::delete(role_assignments::table.filter(role_assignments::user_id.eq(world.owner.id)))
                .execute(&mut **app.conn())
                .expect("remove roles");
            let r = retrieve(&client, &app.addr, &world.project, "item").await.unwrap();
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
        });
    }
}

#[test]
fn sqlite_token_read_needs_no_pooled_connection() {
    let db = TestDb::sqlite();
    let app = app(&db, 1);
    let world = World::create(&mut app.conn());
    let client = api_client(&world.token, Duration::from_secs(30));
    let rt = runtime();
    rt.block_on(async {
        let r = set(&client, &app.addr, &world.project, "item", &json!({"a": 1}))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    });
    // The pool's only connection, held for the rest of the test.
    let held = app.conn();
    rt.block_on(async {
        for _ in 0..3 {
            let r = retrieve(&client, &app.addr, &world.project, "item")
                .await
                .unwrap();
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            assert_eq!(r.body["data"], json!({"a": 1}));
        }
        let missing = retrieve(&client, &app.addr, &world.project, "missing")
            .await
            .unwrap();
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{:?}", missing.body);
    });
    drop(held);
}

#[test]
fn postgresql_token_read_waits_for_the_pool_and_answers_503_in_time() {
    let Some(db) = TestDb::postgres() else { return };
    assert_eq!(db.backend, Backend::Postgres);
    let app = app(&db, 1);
    let world = World::create(&mut app.conn());
    let client = api_client(&world.token, Duration::from_secs(60));
    let held = app.conn();
    runtime().block_on(async {
        let started = Instant::now();
        let r = retrieve(&client, &app.addr, &world.project, "item")
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
        // The database timeout (2 s) plus the margin, with headroom for a loaded machine.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
    });
    drop(held);
}

backend_test! {
    fn a_read_answered_again_still_sees_the_next_change_and_the_token_expiry(db) {
        use sodarcache::db::schema::{api_tokens, users};
        let app = app(&db, 4);
        let world = World::create(&mut app.conn());
        let client = api_client(&world.token, Duration::from_secs(30));
        let rt = runtime();
        let read = || rt.block_on(async {
            retrieve(&client, &app.addr, &world.project, "item").await.unwrap()
        });
        rt.block_on(async {
            let r = set(&client, &app.addr, &world.project, "item", &json!({"a": 1})).await.unwrap();
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        });
        // The same read again and again: on SQLite answered from what the reader
        // connection remembers (nothing was committed in between).
        for _ in 0..3 {
            let r = read();
            assert_eq!((r.status, &r.body["data"]), (StatusCode::OK, &json!({"a": 1})));
        }
        // Changes committed through other connections, each seen by the next read.
        let set_active = |active: bool| {
            diesel::update(users::table.find(world.owner.id))
                .set(users::is_active.eq(active))
                .execute(&mut **app.conn())
                .expect("user");
        };
        set_active(false);
        assert_eq!(read().status, StatusCode::UNAUTHORIZED);
        assert_eq!(read().status, StatusCode::UNAUTHORIZED);
        set_active(true);
        assert_eq!(read().status, StatusCode::OK);
        assert_eq!(read().status, StatusCode::OK);
        sodarcache::db::models::ProjectBlock::block(&mut app.conn(), &world.project).expect("block");
        assert_eq!(read().status, StatusCode::FORBIDDEN);
        sodarcache::db::models::ProjectBlock::unblock(&mut app.conn(), &world.project).expect("unblock");
        assert_eq!(read().status, StatusCode::OK);
        // An expiry passes without any commit: checked on every request.
        let soon = sodarcache::db::now() + chrono::Duration::seconds(2);
        diesel::update(api_tokens::table.filter(api_tokens::user_id.eq(world.owner.id)))
            .set(api_tokens::expiry.eq(Some(soon)))
            .execute(&mut **app.conn())
            .expect("expiry");
        assert_eq!(read().status, StatusCode::OK);
        assert_eq!(read().status, StatusCode::OK);
        while sodarcache::db::now() <= soon {
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(read().status, StatusCode::UNAUTHORIZED, "expired");
    }
}
