//! PostgreSQL: a token retrieve's gate rows are kept with the auth epoch they were read
//! at (`auth::token_grants`), and the next retrieve reads only the epoch and the item.
//! These pin that it stays exact: every change to what the gate reads, committed
//! through another server instance, is seen by the very next request; and that the
//! kept rows are really used (and not thrown away by unrelated writes).

mod common;
#[path = "reliability/mod.rs"]
mod reliability;

use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;
use sodarcache::auth::item_access::{ItemBody, ItemPart, ItemRequest};
use sodarcache::auth::token_grants::{GrantCounts, TokenGrants};
use sodarcache::db::models::{ProjectBlock, Role};
use sodarcache::db::schema::{api_tokens, projects, role_assignments, users};
use sodarcache::plugins::PluginRegistry;

use common::{TestApp, TestDb};
use reliability::{APP, World, api_client, retrieve, runtime, set};

fn app(db: &TestDb) -> TestApp {
    TestApp::spawn(db, PluginRegistry::builder(), |s| {
        s.worker_poll = Duration::from_secs(3600);
    })
}

#[test]
fn changes_committed_through_one_instance_are_seen_by_the_next_retrieve_on_the_other() {
    let Some(db) = TestDb::postgres() else { return };
    let a = app(&db);
    let b = app(&db);
    let world = World::create(&mut a.conn());
    let client = api_client(&world.token, Duration::from_secs(30));
    let rt = runtime();
    let read = |app: &TestApp| {
        rt.block_on(async {
            retrieve(&client, &app.addr, &world.project, "item")
                .await
                .unwrap()
        })
    };
    let write = |app: &TestApp, n: i32| {
        rt.block_on(async {
            let r = set(&client, &app.addr, &world.project, "item", &json!({"n": n}))
                .await
                .unwrap();
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        })
    };
    write(&b, 1);
    // Both instances keep the owner's gate rows (a second read is answered from them).
    for app in [&a, &b, &a, &b] {
        let r = read(app);
        assert_eq!(
            (r.status, &r.body["data"]),
            (StatusCode::OK, &json!({"n": 1}))
        );
    }
    // An item written through one instance is read by the other.
    write(&b, 2);
    assert_eq!(read(&a).body["data"], json!({"n": 2}));

    // A block added through B: A's next retrieve is refused; removed: allowed again.
    ProjectBlock::block(&mut b.conn(), &world.project).expect("block");
    assert_eq!(read(&a).status, StatusCode::FORBIDDEN, "block seen by A");
    assert_eq!(read(&b).status, StatusCode::FORBIDDEN, "block seen by B");
    ProjectBlock::unblock(&mut b.conn(), &world.project).expect("unblock");
    assert_eq!(read(&a).status, StatusCode::OK);
    assert_eq!(read(&a).status, StatusCode::OK);

    // The user deactivated through B.
    let set_active = |active: bool| {
        diesel::update(users::table.find(world.owner.id))
            .set(users::is_active.eq(active))
            .execute(&mut **b.conn())
            .expect("user");
    };
    set_active(false);
    assert_eq!(
        read(&a).status,
        StatusCode::UNAUTHORIZED,
        "deactivation seen"
    );
    set_active(true);
    assert_eq!(read(&a).status, StatusCode::OK);
    assert_eq!(read(&a).status, StatusCode::OK);

    // Every role of the owner removed through B (the category's reaches the project).
    diesel::delete(role_assignments::table.filter(role_assignments::user_id.eq(world.owner.id)))
        .execute(&mut **b.conn())
        .expect("remove roles");
    assert_eq!(read(&a).status, StatusCode::FORBIDDEN, "role removal seen");
    assert_eq!(read(&a).status, StatusCode::FORBIDDEN);

    // The token revoked through B.
    diesel::delete(api_tokens::table.filter(api_tokens::user_id.eq(world.owner.id)))
        .execute(&mut **b.conn())
        .expect("revoke");
    assert_eq!(
        read(&a).status,
        StatusCode::UNAUTHORIZED,
        "revocation seen by A"
    );
    assert_eq!(
        read(&b).status,
        StatusCode::UNAUTHORIZED,
        "revocation seen by B"
    );
}

#[test]
fn kept_gate_rows_answer_until_the_auth_epoch_moves() {
    let Some(db) = TestDb::postgres() else { return };
    let app = app(&db);
    let pool = app.pool.clone();
    let world = World::create(&mut pool.get().expect("conn"));
    let client = api_client(&world.token, Duration::from_secs(30));
    runtime().block_on(async {
        let r = set(&client, &app.addr, &world.project, "item", &json!({"a": 1}))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    });
    let mut conn = pool.get().expect("conn");
    let (prefix, digest) = sodarcache::auth::token::lookup_key(&world.token).expect("key");
    let req = ItemRequest {
        prefix,
        digest: &digest,
        project: world.project.uuid.0,
        app_name: APP,
        item_name: "item",
        known_sha256: "",
    };
    let grants = TokenGrants::new();
    let mut read = || {
        let access = ItemBody::load_remembering(&mut conn, &req, &grants)
            .expect("read")
            .expect("token found");
        let item = access.item.expect("item");
        let data: serde_json::Value =
            serde_json::from_str(item.data.expect("data").as_str()).expect("json");
        assert_eq!(data, json!({"a": 1}));
        access.role
    };
    assert_eq!(read(), Some(Role::Owner));
    assert_eq!(read(), Some(Role::Owner));
    assert_eq!(grants.counts(), GrantCounts { hits: 1, misses: 1 });

    // The overview's kept last sync (every finished job writes it) moves nothing.
    diesel::update(projects::table.find(world.project.id))
        .set(projects::last_sync_status.eq(Some("done")))
        .execute(&mut **pool.get().expect("conn"))
        .expect("last sync");
    assert_eq!(read(), Some(Role::Owner));
    assert_eq!(grants.counts(), GrantCounts { hits: 2, misses: 1 });

    // A role change moves the epoch: read again in full, and the new role decides.
    diesel::update(
        role_assignments::table
            .filter(role_assignments::user_id.eq(world.owner.id))
            .filter(role_assignments::project_id.eq(world.project.id)),
    )
    .set(role_assignments::role.eq(Role::Guest.as_str()))
    .execute(&mut **pool.get().expect("conn"))
    .expect("role");
    diesel::delete(
        role_assignments::table
            .filter(role_assignments::user_id.eq(world.owner.id))
            .filter(role_assignments::project_id.ne(world.project.id)),
    )
    .execute(&mut **pool.get().expect("conn"))
    .expect("category role");
    assert_eq!(read(), Some(Role::Guest));
    assert_eq!(grants.counts(), GrantCounts { hits: 2, misses: 2 });
    assert_eq!(read(), Some(Role::Guest));
    assert_eq!(grants.counts(), GrantCounts { hits: 3, misses: 2 });
}
