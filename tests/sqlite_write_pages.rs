//! What a steady-state REST set (data unchanged, same writer) writes on SQLite (issue
//! 11): the pages its commits append to the WAL, mapped to their tables and indexes by
//! `dbstat`. Only the item, its two date indexes, the scope's `newest` and its two
//! indexes, and the event with its two indexes may change; the scope's `bytes` and
//! `oldest` sort indexes, the kept per-app and total rows, the writer index and
//! `sqlite_sequence` must not (migrations 2026-12-03-200001 and 200002, and the touch
//! setting the writer only when it changes). Before them each such set wrote 17 pages
//! on the bench database, after them 12.

mod common;

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use sodarcache::cache::Provenance;
use sodarcache::db::models::{NewEvent, Origin};
use sodarcache::db::{DbConn, JsonText};
use sodarcache::plugins::PluginRegistry;

use common::TestDb;
use common::fixtures as fx;
use common::plugins::TestPlugin;

#[derive(QueryableByName)]
struct PageOwner {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    pageno: i64,
}

/// The page number of every frame in the WAL file, in order.
fn wal_frames(wal: &std::path::Path) -> Vec<u32> {
    let bytes = std::fs::read(wal).unwrap_or_default();
    if bytes.len() < 32 {
        return Vec::new();
    }
    let page_size = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let mut frames = Vec::new();
    let mut at = 32;
    while at + 24 + page_size <= bytes.len() {
        frames.push(u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()));
        at += 24 + page_size;
    }
    frames
}

#[test]
fn a_set_of_unchanged_data_writes_only_the_pages_that_change() {
    let db = TestDb::sqlite();
    let path = db.url.strip_prefix("sqlite://").unwrap().to_owned();
    let pool = db.pool();
    let registry = PluginRegistry::builder()
        .project_app(TestPlugin::writes("writer", "synced"))
        .build(pool.clone(), &db.settings());
    let cache = registry.cache_unchecked();
    let mut pooled = pool.get().unwrap();
    let conn: &mut DbConn = &mut pooled;
    let user = fx::user(conn, "alice", false);
    let top = fx::category(conn, "Top", None);
    let project = fx::project(conn, "P", Some(&top), None);
    let data = JsonText::from_value(&serde_json::json!({ "payload": "s".repeat(1000) }));
    let names: Vec<String> = (0..20).map(|i| format!("set_{i}")).collect();
    let event = |name: &str| NewEvent {
        project_id: Some(project.id),
        user_id: Some(user.id),
        event_name: "cache_set",
        origin: Origin::Api,
        description: format!("Set cache item \"writer:{name}\" over the API"),
        ok: true,
    };
    let set = |conn: &mut DbConn, name: &str| {
        cache
            .set_cache_item_recorded(
                conn,
                "writer",
                name,
                &data,
                Some(&project),
                Some(&user),
                Provenance::API,
                Some(&event(name)),
            )
            .unwrap()
    };
    // The scope's oldest item stays (as the bench's item_1k): the round robin below
    // moves only the newest time.
    set(conn, "first");
    for name in &names {
        set(conn, name);
    }
    let before: Vec<i64> = names.iter().map(|n| set(conn, n).version).collect();

    diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(conn)
        .unwrap();
    assert!(wal_frames(&std::path::PathBuf::from(format!("{path}-wal"))).is_empty());
    for name in &names {
        let written = set(conn, name);
        assert_eq!(written.user_id, Some(user.id));
    }
    let after: Vec<i64> = names.iter().map(|n| set(conn, n).version).collect();
    assert_eq!(before, after, "unchanged data makes no version");

    let frames = wal_frames(&std::path::PathBuf::from(format!("{path}-wal")));
    let owners: BTreeMap<i64, String> = diesel::sql_query("SELECT name, pageno FROM dbstat")
        .load::<PageOwner>(conn)
        .unwrap()
        .into_iter()
        .map(|o| (o.pageno, o.name))
        .collect();
    let mut written: BTreeMap<&str, usize> = BTreeMap::new();
    for page in &frames {
        let owner = owners
            .get(&i64::from(*page))
            .map_or("(free)", String::as_str);
        *written.entry(owner).or_default() += 1;
    }
    let commits = 2 * names.len();
    for untouched in [
        "cache_scope_stats_bytes",
        "cache_scope_stats_bytes_desc",
        "cache_scope_stats_oldest",
        "cache_scope_stats_oldest_desc",
        "cache_scope_stats_items",
        "cache_scope_stats_items_desc",
        "cache_app_stats",
        "cache_app_totals",
        "cache_totals",
        "cache_items_user",
        "sqlite_sequence",
    ] {
        assert!(
            !written.contains_key(untouched),
            "{untouched} was written by {commits} sets of unchanged data: {written:?}"
        );
    }
    for changed in ["cache_items", "cache_scope_stats_newest", "events"] {
        assert!(
            written.contains_key(changed),
            "{changed} not written: {written:?}"
        );
    }
    assert!(
        frames.len() <= 13 * commits,
        "{} pages for {commits} sets: {written:?}",
        frames.len()
    );
}
