//! Item history: versions kept and pruned in the write's transaction, unchanged data
//! makes no version, bulk writes too, history goes with its item and project, and
//! REST `history` / `retrieve?version=N` with retrieve's permissions.

mod api_helpers;
mod common;

use api_helpers::{APP, As, ITEM, ITEM_DATA, ROLES, World, run};
use diesel::prelude::*;
use serde_json::{Value, json};
use sodarcache::cache::{CacheWrite, SodarCache};
use sodarcache::db::models::{CacheItem, ItemVersion, WriteOrigin};
use sodarcache::db::schema::{cache_item_versions, projects};
use sodarcache::db::{DbConn, JsonText, Scope};
use sodarcache::plugins::PluginRegistry;

use common::TestDb;
use common::fixtures as fx;

fn cache(db: &TestDb) -> (sodarcache::db::DbPool, std::sync::Arc<SodarCache>) {
    let pool = db.pool();
    let registry = PluginRegistry::builder().build(pool.clone(), &db.settings());
    (pool, registry.cache().unwrap())
}

fn set(cache: &SodarCache, name: &str, data: Value) -> CacheItem {
    cache
        .set_cache_item(APP, name, &data, "json", None, None)
        .unwrap()
}

/// Every kept version's number and data, newest first.
fn kept(conn: &mut DbConn, item: &CacheItem) -> Vec<(i64, Value)> {
    ItemVersion::list_for_item(conn, item.id)
        .unwrap()
        .into_iter()
        .map(|v| {
            let full = ItemVersion::find(conn, item.id, v.version)
                .unwrap()
                .unwrap();
            (v.version, serde_json::from_str(full.data.as_str()).unwrap())
        })
        .collect()
}

fn all_versions(conn: &mut DbConn) -> i64 {
    cache_item_versions::table.count().get_result(conn).unwrap()
}

backend_test! {
    fn each_change_keeps_the_previous_version_pruned_to_the_setting(db) {
        let (pool, cache) = cache(&db);
        let conn = &mut **pool.get().unwrap();
        ItemVersion::set_keep(conn, 3).unwrap();
        for n in 1..=6 {
            set(&cache, "counted", json!({ "n": n }));
        }
        let item = CacheItem::find(conn, Scope::Site, APP, "counted").unwrap().unwrap();
        assert_eq!(item.version, 6);
        assert_eq!(item.origin, Some(WriteOrigin::Library));
        assert_eq!(
            kept(conn, &item),
            vec![(5, json!({ "n": 5 })), (4, json!({ "n": 4 })), (3, json!({ "n": 3 }))]
        );
        // Lowering the setting prunes at the item's next change.
        ItemVersion::set_keep(conn, 1).unwrap();
        set(&cache, "counted", json!({ "n": 7 }));
        assert_eq!(kept(conn, &item), vec![(6, json!({ "n": 6 }))]);
    }
}

backend_test! {
    fn unchanged_data_makes_no_version_but_counts_as_a_write(db) {
        let (pool, cache) = cache(&db);
        let conn = &mut **pool.get().unwrap();
        let first = set(&cache, "same", json!({ "a": [1, 2] }));
        std::thread::sleep(std::time::Duration::from_millis(5));
        let again = set(&cache, "same", json!({ "a": [1, 2] }));
        assert_eq!(again.version, 1);
        assert!(again.date_modified > first.date_modified, "the write still counts as fresh");
        assert!(kept(conn, &again).is_empty());
        let changed = set(&cache, "same", json!({ "a": [1, 3] }));
        assert_eq!(changed.version, 2);
        assert_eq!(kept(conn, &changed), vec![(1, json!({ "a": [1, 2] }))]);
    }
}

backend_test! {
    fn bulk_writes_keep_versions_in_their_transaction(db) {
        let (pool, cache) = cache(&db);
        let conn = &mut **pool.get().unwrap();
        let write = |generation: i64| {
            let items: Vec<CacheWrite<'_>> = ["a", "b", "c"]
                .iter()
                .map(|name| CacheWrite {
                    app_name: APP,
                    name,
                    // `c` never changes.
                    data: JsonText::from_value(&json!({ "gen": if *name == "c" { 0 } else { generation } })),
                    project: None,
                    user: None,
                })
                .collect();
            cache.set_cache_items(&items).unwrap();
        };
        write(1);
        write(2);
        write(3);
        for (name, version, kept_versions) in [("a", 3, vec![2, 1]), ("b", 3, vec![2, 1]), ("c", 1, vec![])] {
            let item = CacheItem::find(conn, Scope::Site, APP, name).unwrap().unwrap();
            assert_eq!(item.version, version, "{name}");
            let numbers: Vec<i64> = kept(conn, &item).into_iter().map(|(v, _)| v).collect();
            assert_eq!(numbers, kept_versions, "{name}");
        }
        let a = CacheItem::find(conn, Scope::Site, APP, "a").unwrap().unwrap();
        assert_eq!(kept(conn, &a)[0].1, json!({ "gen": 2 }));
    }
}

backend_test! {
    fn zero_versions_turns_history_off(db) {
        let (pool, cache) = cache(&db);
        let conn = &mut **pool.get().unwrap();
        ItemVersion::set_keep(conn, 0).unwrap();
        for n in 1..=3 {
            set(&cache, "off", json!(n));
        }
        let item = CacheItem::find(conn, Scope::Site, APP, "off").unwrap().unwrap();
        assert_eq!(item.version, 3, "versions still count");
        assert_eq!(all_versions(conn), 0);
    }
}

backend_test! {
    fn history_goes_with_its_item_and_its_project(db) {
        let (pool, cache) = cache(&db);
        let conn = &mut **pool.get().unwrap();
        let project = fx::project(conn, "Doomed", None, None);
        for n in 1..=3 {
            set(&cache, "site", json!(n));
            cache.set_cache_item(APP, "in_project", &json!(n), "json", Some(&project), None).unwrap();
        }
        assert_eq!(all_versions(conn), 4);
        cache.delete_cache_item(APP, "site", None).unwrap();
        assert_eq!(all_versions(conn), 2, "the site item's history is gone");
        diesel::delete(projects::table.filter(projects::id.eq(project.id))).execute(conn).unwrap();
        assert_eq!(all_versions(conn), 0, "the project's items' history is gone");
    }
}

/// Gives the world's item versions 1..=3, written by the owner over REST.
async fn three_versions(w: &World) {
    let path = w.item_path("set", &w.project, ITEM);
    for n in [2, 3] {
        w.set(&path, As::User("owner"), json!({ "n": n }))
            .await
            .assert_media("2.0");
    }
}

backend_test! {
    fn rest_history_lists_versions_without_data_newest_first(db) {
        let w = World::new(&db);
        run(async {
            three_versions(&w).await;
            let reply = w.get(&w.item_path("history", &w.project, ITEM), As::User("guest")).await;
            assert_eq!(reply.status, 200, "{reply:?}");
            let body = reply.json();
            assert_eq!(body["project"], w.project.uuid.to_string());
            assert_eq!((body["app_name"].as_str(), body["name"].as_str()), (Some(APP), Some(ITEM)));
            let versions = body["versions"].as_array().unwrap();
            let numbers: Vec<i64> = versions.iter().map(|v| v["version"].as_i64().unwrap()).collect();
            assert_eq!(numbers, [3, 2, 1]);
            assert_eq!(versions[0]["current"], true);
            assert_eq!(versions[1]["current"], false);
            assert_eq!(versions[0]["origin"], "api");
            assert_eq!(versions[2]["origin"], "library");
            assert_eq!(versions[0]["user"], w.users["owner"].uuid.to_string());
            assert!(versions.iter().all(|v| v.get("data").is_none()));
            assert_eq!(versions[2]["size"], ITEM_DATA.len());
        });
    }
}

backend_test! {
    fn retrieve_with_a_version_answers_that_version(db) {
        let w = World::new(&db);
        run(async {
            three_versions(&w).await;
            let base = w.item_path("retrieve", &w.project, ITEM);
            let first = w.get(&format!("{base}?version=1"), As::User("owner")).await;
            assert_eq!(first.status, 200);
            first.assert_media("2.0");
            let original: Value = serde_json::from_str(ITEM_DATA).unwrap();
            assert_eq!(first.json()["data"], original);
            // Upstream's key order, the stored text as it was.
            let order: Vec<usize> = ["\"project\"", "\"app_name\"", "\"name\"", "\"date_modified\"", "\"user\"", "\"data\""]
                .iter()
                .map(|k| first.text.find(k).unwrap())
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", first.text);
            assert!(first.text.ends_with(&format!("\"data\":{ITEM_DATA}}}")), "{}", first.text);
            let second = w.get(&format!("{base}?version=2"), As::User("owner")).await;
            assert_eq!(second.json()["data"], json!({ "n": 2 }));
            let current = w.get(&format!("{base}?version=3"), As::User("owner")).await;
            let plain = w.get(&base, As::User("owner")).await;
            assert_eq!(current.json(), plain.json());
            assert_eq!(current.header("etag"), plain.header("etag"));
            w.get(&format!("{base}?version=9"), As::User("owner")).await.assert_status_with_detail(404);
            for bad in ["0", "-1", "x", "1.5", ""] {
                let reply = w.get(&format!("{base}?version={bad}"), As::User("owner")).await;
                reply.assert_error(400, "version must be a positive integer");
            }
            // Other query parameters leave the plain answer alone.
            assert_eq!(w.get(&format!("{base}?format=json"), As::User("owner")).await.json(), plain.json());
        });
    }
}

backend_test! {
    fn history_and_versions_have_the_permissions_of_retrieve(db) {
        let w = World::new(&db);
        run(async {
            three_versions(&w).await;
            let paths = [
                w.item_path("retrieve", &w.project, ITEM),
                format!("{}?version=1", w.item_path("retrieve", &w.project, ITEM)),
                w.item_path("history", &w.project, ITEM),
            ];
            for role in ROLES {
                let expected = w.get(&paths[0], As::User(role)).await.status;
                for path in &paths[1..] {
                    assert_eq!(w.get(path, As::User(role)).await.status, expected, "{role} {path}");
                }
            }
            for path in &paths {
                assert_eq!(w.get(path, As::Anonymous).await.status, 401, "{path}");
            }
            // A bad version parameter is not checked before access.
            let bad = format!("{}?version=x", w.item_path("retrieve", &w.project, ITEM));
            assert_eq!(w.get(&bad, As::User("viewer")).await.status, 403);
            assert_eq!(w.get(&bad, As::Anonymous).await.status, 401);
            let missing = w.item_path("history", &w.project, "no_such_item");
            w.get(&missing, As::User("owner")).await.assert_status_with_detail(404);
        });
    }
}

backend_test! {
    fn a_large_write_is_stored_as_sent_and_the_version_it_replaces_is_kept(db) {
        // 2 MiB and more: PostgreSQL sends such data by COPY (STAGED_WRITE_BYTES).
        let text = |fill: &str| {
            let rows = vec![format!("\"{}\"", fill.repeat(90)); 24_000];
            // Odd spacing and an escape, kept as sent.
            format!("{{ \"rows\" :[{}],\n\t\"esc\": \"\\u00e9\\n\" }}", rows.join(" ,"))
        };
        let (first, second) = (text("a"), text("b"));
        assert!(first.len() >= 2 * sodarcache::db::models::STAGED_WRITE_BYTES);
        let (pool, cache) = cache(&db);
        let conn = &mut **pool.get().unwrap();
        let write = |t: &str| {
            cache
                .set_cache_item_json(APP, "large", &JsonText::parse(t).unwrap(), None, None)
                .unwrap()
        };
        write(&first);
        let replaced = write(&second);
        assert_eq!(replaced.version, 2);
        // Unchanged data makes no version.
        assert_eq!(write(&second).version, 2);
        let item = CacheItem::find(conn, Scope::Site, APP, "large").unwrap().unwrap();
        assert_eq!(item.data.as_str(), second, "stored byte for byte");
        assert_eq!(item.size_bytes, second.len() as i64);
        assert_eq!(item.data_sha256.as_deref(), Some(JsonText::parse(&second).unwrap().sha256_hex().as_str()));
        let versions = ItemVersion::list_for_item(conn, item.id).unwrap();
        assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), vec![1]);
        let old = ItemVersion::find(conn, item.id, 1).unwrap().unwrap();
        assert_eq!(old.data.as_str(), first);
        // A second large write on the same connection and transaction finds no leftover.
        let third = text("c");
        conn.transaction::<_, sodarcache::Error, _>(|c| {
            for name in ["large", "large2"] {
                cache.set_cache_item_recorded(
                    c, APP, name, &JsonText::parse(&third).unwrap(), None, None,
                    sodarcache::cache::Provenance::LIBRARY, None,
                )?;
            }
            Ok(())
        })
        .unwrap();
        for name in ["large", "large2"] {
            let item = CacheItem::find(conn, Scope::Site, APP, name).unwrap().unwrap();
            assert_eq!(item.data.as_str(), third, "{name}");
        }
    }
}

backend_test! {
    fn setting_the_number_of_versions_to_the_stored_value_only_reads_it(db) {
        use diesel::connection::{Instrumentation, InstrumentationEvent};
        use std::sync::{Arc, Mutex};

        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = seen.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                sink.lock().unwrap().push(query.to_string());
            }
        });
        let statements_of = |conn: &mut DbConn, keep: u32| {
            seen.lock().unwrap().clear();
            ItemVersion::set_keep(conn, keep).unwrap();
            let statements = seen.lock().unwrap().clone();
            let stored: String = sodarcache::db::schema::site_settings::table
                .filter(sodarcache::db::schema::site_settings::name.eq("history_versions"))
                .select(sodarcache::db::schema::site_settings::value)
                .first(conn)
                .unwrap();
            assert_eq!(stored, keep.to_string(), "stored after set_keep({keep})");
            statements
        };
        // Stored once (a fresh database may have no row yet), then the same value again
        // is a read only.
        statements_of(conn, 5);
        let same = statements_of(conn, 5);
        assert_eq!(same.len(), 1, "one statement: {same:?}");
        assert!(same[0].trim_start().starts_with("SELECT"), "{same:?}");
        // Another value is written, and then reading it again writes nothing.
        let changed = statements_of(conn, 2);
        assert!(changed.iter().any(|s| s.contains("INSERT")), "{changed:?}");
        let again = statements_of(conn, 2);
        assert_eq!(again.len(), 1, "{again:?}");
        conn.set_instrumentation(None::<Box<dyn Instrumentation>>);
    }
}
