//! Deleting a project's whole cache in one step (migration 2026-12-04-100001_deleted_scopes):
//! `delete_cache(None, Some(project))` moves the project to a new item key and marks the
//! old one in `cache_dead_keys` instead of deleting each row. Checked here: the deleted
//! items are gone from every read at once while their rows are still there, other
//! scopes keep theirs, names written again are new items without the old history, a
//! second delete marks a second key, `CacheItem::purge_deleted` removes the dead rows in
//! batches of the given size and then the marks, a project deleted with dead rows left
//! leaves nothing behind, and a delete of an empty cache marks nothing. The kept
//! aggregates equal a recount of the live items after every step. Both backends.

mod common;

use diesel::prelude::*;
use serde_json::{Value, json};
use sodarcache::cache::SodarCache;
use sodarcache::cache::history::versions;
use sodarcache::db::models::kept_stats::{kept, recount};
use sodarcache::db::models::{CacheItem, ItemQuery, ItemVersion, Project};
use sodarcache::db::schema::projects;
use sodarcache::db::{DbConn, DbPool, JsonText, Scope};
use sodarcache::plugins::PluginRegistry;

use common::fixtures as fx;
use common::plugins::TestPlugin;
use common::rows::{count, outliving_their_item};
use common::{Backend, TestDb};

const APPS: [&str; 2] = ["writer", "other"];
const NAMES: [&str; 3] = ["a", "b", "c"];

/// Two projects under a category, both apps registered; nothing written yet.
struct World {
    pool: DbPool,
    registry: PluginRegistry,
    p1: Project,
    p2: Project,
}

fn world(db: &TestDb) -> World {
    let pool = db.pool();
    let registry = PluginRegistry::builder()
        .project_app(TestPlugin::writes("writer", "synced"))
        .project_app(TestPlugin::writes("other", "also"))
        .build(pool.clone(), &db.settings());
    let conn = &mut **pool.get().unwrap();
    let top = fx::category(conn, "Top", None);
    let p1 = fx::project(conn, "P1", Some(&top), None);
    let p2 = fx::project(conn, "P2", Some(&top), None);
    World {
        pool,
        registry,
        p1,
        p2,
    }
}

/// Each app's items `a`, `b`, `c` in the first project, the second one and site-wide,
/// each written twice (a kept version each), and one item over the preview limit in the
/// first project: 7, 6 and 6 items.
fn fill(cache: &SodarCache, w: &World) {
    for scope in [Some(&w.p1), Some(&w.p2), None] {
        for app in APPS {
            for name in NAMES {
                for n in 0..2 {
                    let data = JsonText::from_value(&json!({ "n": n, "name": name }));
                    cache
                        .set_cache_item_json(app, name, &data, scope, None)
                        .unwrap();
                }
            }
        }
    }
    let large = JsonText::from_value(&json!({ "rows": "x".repeat(4_300_000) }));
    cache
        .set_cache_item_json("writer", "large", &large, Some(&w.p1), None)
        .unwrap();
}

/// Every `(app, name)` [`fill`] writes in the first project.
fn p1_keys() -> Vec<(&'static str, &'static str)> {
    let mut keys: Vec<_> = APPS
        .iter()
        .flat_map(|app| NAMES.iter().map(move |name| (*app, *name)))
        .collect();
    keys.push(("writer", "large"));
    keys
}

/// Writes each app's `a`, `b`, `c` once more into `project` (data unlike [`fill`]'s).
fn rewrite(cache: &SodarCache, project: &Project) -> Vec<CacheItem> {
    APPS.iter()
        .flat_map(|app| NAMES.iter().map(move |name| (*app, *name)))
        .map(|(app, name)| {
            let data = JsonText::from_value(&json!({ "again": name }));
            cache
                .set_cache_item_json(app, name, &data, Some(project), None)
                .unwrap()
        })
        .collect()
}

/// Items, versions, previews, data rows: everything physically there, dead or live.
fn rows(conn: &mut DbConn) -> [i64; 4] {
    [
        "cache_items",
        "cache_item_versions",
        "cache_item_previews",
        "cache_item_data",
    ]
    .map(|t| count(conn, &format!("SELECT COUNT(*) AS n FROM {t}")))
}

fn dead_keys(conn: &mut DbConn) -> i64 {
    count(conn, "SELECT COUNT(*) AS n FROM cache_dead_keys")
}

fn dead_keys_of(conn: &mut DbConn, project: &Project) -> i64 {
    count(
        conn,
        &format!(
            "SELECT COUNT(*) AS n FROM cache_dead_keys WHERE project_id = {}",
            project.id
        ),
    )
}

/// The kept aggregates equal a recount, no version or preview outlives its item, one
/// data row per item and version, and (SQLite) the bulk marker is gone.
fn assert_consistent(db: &TestDb, conn: &mut DbConn, step: &str) {
    assert_eq!(kept(conn).unwrap(), recount(conn).unwrap(), "after {step}");
    let [items, versions, _, data] = rows(conn);
    assert_eq!(
        data,
        items + versions,
        "one data row per item and version after {step}"
    );
    assert_eq!(
        outliving_their_item(conn),
        0,
        "versions or previews without their item after {step}"
    );
    if db.backend == Backend::Sqlite {
        let marker = count(conn, "SELECT COUNT(*) AS n FROM cache_stats_bulk");
        assert_eq!(marker, 0, "the bulk marker is gone after {step}");
    }
}

/// Nothing of `project`'s cache is seen by any read.
fn assert_nothing_readable(cache: &SodarCache, conn: &mut DbConn, project: &Project, step: &str) {
    for (app, name) in p1_keys() {
        let item = cache.get_cache_item(app, name, Some(project)).unwrap();
        assert!(item.is_none(), "{app}:{name} read after {step}");
        let date = cache.get_update_time(app, name, Some(project)).unwrap();
        assert!(
            date.is_none(),
            "{app}:{name} has an update time after {step}"
        );
    }
    let listed = cache.get_project_cache(project, "json").unwrap();
    assert!(
        listed.is_empty(),
        "the project's listing after {step}: {listed:?}"
    );
    let scope = Scope::from(project);
    let (page, total) = CacheItem::query(
        conn,
        &ItemQuery {
            scope,
            limit: 100,
            ..ItemQuery::default()
        },
    )
    .unwrap();
    assert!(page.is_empty(), "the project's item page after {step}");
    assert_eq!(total, 0, "the project's item page's total after {step}");
    let counted = CacheItem::count_by_app(conn, Some(scope), None).unwrap();
    assert!(
        counted.is_empty(),
        "kept counts per app after {step}: {counted:?}"
    );
    let searched = CacheItem::count_by_app(conn, Some(scope), Some("a")).unwrap();
    assert!(
        searched.is_empty(),
        "searched counts per app after {step}: {searched:?}"
    );
    let stats = CacheItem::stats_for(conn, &[scope]).unwrap();
    assert_eq!(
        stats.iter().map(|s| s.items).sum::<i64>(),
        0,
        "the project's kept item count after {step}"
    );
}

fn kept_items(conn: &mut DbConn) -> i64 {
    kept(conn).unwrap().totals.items
}

/// Calls `purge_deleted(conn, 2)` until it returns 0 (checking each call), and returns
/// how many rows the calls removed together.
fn purge_all(db: &TestDb, conn: &mut DbConn) -> usize {
    let mut removed = 0;
    for call in 1..=100 {
        let n = CacheItem::purge_deleted(conn, 2).unwrap();
        assert!(n <= 2, "call {call} of purge_deleted(2) removed {n} rows");
        assert_consistent(db, conn, &format!("purge call {call}"));
        if n == 0 {
            return removed;
        }
        removed += n;
    }
    panic!("purge_deleted(2) still removing rows after 100 calls ({removed} removed)");
}

backend_test! {
    fn deleting_a_projects_cache_hides_its_items_at_once_and_keeps_their_rows(db) {
        let w = world(&db);
        let cache = w.registry.cache_unchecked();
        let conn = &mut **w.pool.get().unwrap();
        fill(cache, &w);
        assert_consistent(&db, conn, "the fill");
        assert_eq!(rows(conn), [19, 18, 1, 37]);
        assert_eq!(kept_items(conn), 13, "both projects' items in the totals");
        let old: Vec<CacheItem> = cache.get_project_cache(&w.p1, "json").unwrap();
        assert_eq!(old.len(), 7);
        let others: Vec<CacheItem> = [Some(&w.p2), None]
            .into_iter()
            .flat_map(|scope| {
                p1_keys()
                    .into_iter()
                    .filter(|(_, name)| *name != "large")
                    .map(move |(app, name)| cache.get_cache_item(app, name, scope).unwrap().unwrap())
            })
            .collect();

        assert_eq!(cache.delete_cache(None, Some(&w.p1)).unwrap(), 7, "every item counted");

        assert_nothing_readable(cache, conn, &w.p1, "the delete");
        for item in &old {
            let found = CacheItem::find_by_uuid(conn, item.uuid.0).unwrap();
            assert!(found.is_none(), "{}:{} found by its old UUID", item.app_name, item.name);
        }
        // Everyone else's items: the same items, data and history as before.
        for before in &others {
            let scope = before.project_id.map(|_| &w.p2);
            let now = cache.get_cache_item(&before.app_name, &before.name, scope).unwrap();
            let now = now.unwrap_or_else(|| panic!("{}:{} is gone", before.app_name, before.name));
            assert_eq!((now.uuid, now.version), (before.uuid, 2));
            assert_eq!(now.data.as_str(), before.data.as_str());
            assert!(CacheItem::find_by_uuid(conn, before.uuid.0).unwrap().is_some());
            assert_eq!(ItemVersion::list_for_item(conn, now.id).unwrap().len(), 1);
        }
        assert_eq!(cache.get_project_cache(&w.p2, "json").unwrap().len(), 6);
        let (by_prefix, total) = CacheItem::list_by_prefix(conn, "writer", "", 0, 100).unwrap();
        assert_eq!(total, 6, "the second project's and the site-wide writer items");
        assert!(
            by_prefix.iter().all(|(i, _)| i.project_id != Some(w.p1.id)),
            "a deleted item in a listing across projects"
        );

        assert_consistent(&db, conn, "the delete");
        assert_eq!(kept_items(conn), 6, "only the second project's items in the totals");
        // The point of the change: nothing was deleted, the old key is marked dead.
        assert_eq!(rows(conn), [19, 18, 1, 37], "the rows are all still there");
        assert_eq!(dead_keys(conn), 1);
        let old_key = count(
            conn,
            &format!(
                "SELECT COUNT(*) AS n FROM cache_dead_keys WHERE project_key = {0} AND project_id = {0}",
                w.p1.id
            ),
        );
        assert_eq!(old_key, 1, "the project's old key (its id) is the dead one");
        let moved = count(
            conn,
            &format!("SELECT COUNT(*) AS n FROM projects WHERE id = {} AND cache_key < 0", w.p1.id),
        );
        assert_eq!(moved, 1, "the project has a new, negative item key");
        let untouched = count(
            conn,
            &format!("SELECT COUNT(*) AS n FROM projects WHERE id = {} AND cache_key IS NULL", w.p2.id),
        );
        assert_eq!(untouched, 1, "the other project keeps its key");
    }
}

backend_test! {
    fn names_written_again_after_the_delete_are_new_items_without_the_old_history(db) {
        let w = world(&db);
        let cache = w.registry.cache_unchecked();
        let conn = &mut **w.pool.get().unwrap();
        fill(cache, &w);
        let old: Vec<CacheItem> = cache.get_project_cache(&w.p1, "json").unwrap();
        assert_eq!(cache.delete_cache(None, Some(&w.p1)).unwrap(), 7);

        let written = rewrite(cache, &w.p1);

        assert_eq!(written.len(), 6);
        for item in &written {
            let key = format!("{}:{}", item.app_name, item.name);
            let before = old
                .iter()
                .find(|o| o.app_name == item.app_name && o.name == item.name)
                .unwrap();
            assert_ne!(item.uuid, before.uuid, "{key} kept its old UUID");
            assert_ne!(item.id, before.id, "{key} kept its old row");
            assert_eq!(item.version, 1, "{key} continues the old item's versions");
            let read = cache.get_cache_item(&item.app_name, &item.name, Some(&w.p1)).unwrap();
            let read = read.unwrap_or_else(|| panic!("{key} is not readable"));
            assert_eq!((read.uuid, read.version), (item.uuid, 1));
            let data: Value = serde_json::from_str(read.data.as_str()).unwrap();
            assert_eq!(data, json!({ "again": item.name }), "{key}'s data");
            assert!(cache.get_update_time(&item.app_name, &item.name, Some(&w.p1)).unwrap().is_some());
            assert!(CacheItem::find_by_uuid(conn, item.uuid.0).unwrap().is_some(), "{key} by UUID");
            assert!(CacheItem::find_by_uuid(conn, before.uuid.0).unwrap().is_none(), "{key} by old UUID");
            assert!(ItemVersion::list_for_item(conn, read.id).unwrap().is_empty(), "{key}'s earlier versions");
            let history = versions(conn, &read).unwrap();
            assert_eq!(history.len(), 1, "{key}'s history: {history:?}");
            assert_eq!((history[0].version, history[0].current), (1, true));
        }
        let mut listed: Vec<_> = cache
            .get_project_cache(&w.p1, "json")
            .unwrap()
            .into_iter()
            .map(|i| i.uuid)
            .collect();
        let mut expected: Vec<_> = written.iter().map(|i| i.uuid).collect();
        listed.sort_unstable_by_key(|u| u.0);
        expected.sort_unstable_by_key(|u| u.0);
        assert_eq!(listed, expected, "the listing has the new items only");
        assert!(
            cache.get_cache_item("writer", "large", Some(&w.p1)).unwrap().is_none(),
            "an item not written again stays deleted"
        );
        let counted = CacheItem::count_by_app(conn, Some(Scope::from(&w.p1)), None).unwrap();
        assert_eq!(counted, vec![("other".to_owned(), 3), ("writer".to_owned(), 3)]);

        assert_consistent(&db, conn, "writing the names again");
        assert_eq!(kept_items(conn), 12, "both projects' live items in the totals");
        assert_eq!(rows(conn)[0], 19 + 6, "the dead rows and the new ones");
        assert_eq!(dead_keys(conn), 1);
    }
}

backend_test! {
    fn deleting_the_written_again_cache_marks_a_second_dead_key(db) {
        let w = world(&db);
        let cache = w.registry.cache_unchecked();
        let conn = &mut **w.pool.get().unwrap();
        fill(cache, &w);
        assert_eq!(cache.delete_cache(None, Some(&w.p1)).unwrap(), 7);
        let written = rewrite(cache, &w.p1);

        assert_eq!(cache.delete_cache(None, Some(&w.p1)).unwrap(), 6, "the new items only");

        assert_nothing_readable(cache, conn, &w.p1, "the second delete");
        for item in &written {
            assert!(CacheItem::find_by_uuid(conn, item.uuid.0).unwrap().is_none());
        }
        assert_eq!(cache.get_project_cache(&w.p2, "json").unwrap().len(), 6);
        assert_consistent(&db, conn, "the second delete");
        assert_eq!(kept_items(conn), 6, "only the second project's items in the totals");
        assert_eq!(rows(conn)[0], 19 + 6, "the rows are all still there");
        assert_eq!(dead_keys(conn), 2);
        assert_eq!(dead_keys_of(conn, &w.p1), 2, "both dead keys are the first project's");
        let live_key_dead = count(
            conn,
            &format!(
                "SELECT COUNT(*) AS n FROM projects p JOIN cache_dead_keys k \
                 ON k.project_key = COALESCE(p.cache_key, p.id) WHERE p.id = {}",
                w.p1.id
            ),
        );
        assert_eq!(live_key_dead, 0, "the project's current key is not a dead one");

        // And a third life.
        let again = rewrite(cache, &w.p1);
        assert!(again.iter().all(|i| i.version == 1));
        assert_eq!(cache.get_project_cache(&w.p1, "json").unwrap().len(), 6);
        assert_consistent(&db, conn, "writing the names a third time");
        assert_eq!(kept_items(conn), 12);
        assert_eq!(dead_keys(conn), 2);
    }
}

backend_test! {
    fn purging_removes_the_dead_rows_in_batches_and_leaves_the_live_ones(db) {
        let w = world(&db);
        let cache = w.registry.cache_unchecked();
        let conn = &mut **w.pool.get().unwrap();
        fill(cache, &w);
        assert_eq!(cache.delete_cache(None, Some(&w.p1)).unwrap(), 7);
        rewrite(cache, &w.p1);
        assert_eq!(cache.delete_cache(None, Some(&w.p1)).unwrap(), 6);
        let live = rewrite(cache, &w.p1);
        assert_eq!(rows(conn), [31, 18, 1, 49]);
        assert_eq!(dead_keys(conn), 2);

        assert_eq!(purge_all(&db, conn), 13, "every dead row, no live one");

        // Live: 6 items in each scope, the versions of the second project's and the
        // site-wide ones; the large item and its preview were dead.
        assert_eq!(rows(conn), [18, 12, 0, 30]);
        assert_eq!(dead_keys(conn), 0, "no dead key left");
        assert_consistent(&db, conn, "the purge");
        assert_eq!(kept_items(conn), 12);
        let mut listed: Vec<_> = cache
            .get_project_cache(&w.p1, "json")
            .unwrap()
            .into_iter()
            .map(|i| i.uuid)
            .collect();
        let mut expected: Vec<_> = live.iter().map(|i| i.uuid).collect();
        listed.sort_unstable_by_key(|u| u.0);
        expected.sort_unstable_by_key(|u| u.0);
        assert_eq!(listed, expected, "the first project's live items are still there");
        assert_eq!(cache.get_project_cache(&w.p2, "json").unwrap().len(), 6);
        for name in NAMES {
            assert!(cache.get_cache_item("writer", name, None).unwrap().is_some());
        }
        assert_eq!(CacheItem::purge_deleted(conn, 2).unwrap(), 0, "nothing left to purge");
    }
}

backend_test! {
    fn deleting_a_project_with_dead_rows_leaves_nothing_for_the_purge_but_its_marks(db) {
        let w = world(&db);
        let cache = w.registry.cache_unchecked();
        let conn = &mut **w.pool.get().unwrap();
        fill(cache, &w);
        assert_eq!(cache.delete_cache(None, Some(&w.p1)).unwrap(), 7);
        rewrite(cache, &w.p1);
        assert_eq!(cache.delete_cache(None, Some(&w.p2)).unwrap(), 6);
        assert_eq!(dead_keys(conn), 2);

        diesel::delete(projects::table.find(w.p1.id)).execute(conn).unwrap();

        assert_consistent(&db, conn, "deleting the project");
        let left = count(
            conn,
            &format!("SELECT COUNT(*) AS n FROM cache_items WHERE project_id = {}", w.p1.id),
        );
        assert_eq!(left, 0, "the project's rows, dead and live, are gone");
        let totals = kept(conn).unwrap().totals;
        assert_eq!((totals.projects, totals.items, totals.bytes), (1, 0, 0));
        // The second project's 6 dead rows and the 6 site-wide items.
        assert_eq!(rows(conn)[0], 12);

        assert_eq!(purge_all(&db, conn), 6, "the second project's dead rows");
        assert_eq!(dead_keys(conn), 0, "the deleted project's marks went too");
        assert_eq!(rows(conn), [6, 6, 0, 12], "the site-wide items and their versions");
        assert_eq!(CacheItem::purge_deleted(conn, 2).unwrap(), 0);
        assert_consistent(&db, conn, "the purge");
        assert_nothing_readable(cache, conn, &w.p2, "the purge");
    }
}

backend_test! {
    fn deleting_an_empty_cache_marks_no_key_dead(db) {
        let w = world(&db);
        let cache = w.registry.cache_unchecked();
        let conn = &mut **w.pool.get().unwrap();

        // A project that never had items.
        assert_eq!(cache.delete_cache(None, Some(&w.p1)).unwrap(), 0);
        assert_eq!(dead_keys(conn), 0);
        assert_consistent(&db, conn, "deleting a cache that was never written");

        // A project whose cache was deleted already, and one emptied item by item.
        fill(cache, &w);
        assert_eq!(cache.delete_cache(None, Some(&w.p1)).unwrap(), 7);
        assert_eq!(dead_keys(conn), 1);
        assert_eq!(cache.delete_cache(None, Some(&w.p1)).unwrap(), 0);
        for app in APPS {
            for name in NAMES {
                assert!(cache.delete_cache_item(app, name, Some(&w.p2)).unwrap());
            }
        }
        assert_eq!(cache.delete_cache(None, Some(&w.p2)).unwrap(), 0);
        assert_eq!(dead_keys(conn), 1, "only the first delete marked a key");
        assert_eq!(dead_keys_of(conn, &w.p2), 0);
        assert_consistent(&db, conn, "deleting empty caches");
        assert_eq!(kept_items(conn), 0);
    }
}

backend_test! {
    fn deletes_between_concurrent_writes_keep_the_aggregates_and_lose_no_later_write(db) {
        let w = world(&db);
        let cache = w.registry.cache().expect("sodar_cache enabled");
        const WRITERS: usize = 4;
        const ROUNDS: usize = 40;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Writers on their own keys of the first project, each write a new version.
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (cache, project, stop) = (cache.clone(), w.p1.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < ROUNDS {
                        let data = JsonText::from_value(&json!({ "writer": writer, "n": n }));
                        cache
                            .set_cache_item_json("writer", &format!("w{writer}-{}", n % 7), &data, Some(&project), None)
                            .unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        // Whole-cache deletes of that project while they write.
        for _ in 0..8 {
            std::thread::sleep(std::time::Duration::from_millis(20));
            cache.delete_cache(None, Some(&w.p1)).unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in writers {
            assert!(t.join().unwrap() >= ROUNDS);
        }
        let conn = &mut **w.pool.get().unwrap();
        assert_consistent(&db, conn, "deletes between concurrent writes");
        // A write that starts after a delete returned is there.
        cache.delete_cache(None, Some(&w.p1)).unwrap();
        let data = JsonText::from_value(&json!({ "after": true }));
        cache
            .set_cache_item_json("writer", "after", &data, Some(&w.p1), None)
            .unwrap();
        let read = cache.get_cache_item("writer", "after", Some(&w.p1)).unwrap();
        assert_eq!(read.map(|i| i.data.to_value()), Some(json!({ "after": true })));
        let items = CacheItem::list_for_scope(conn, Scope::from(&w.p1)).unwrap();
        assert_eq!(items.len(), 1, "only the write after the last delete");
        while CacheItem::purge_deleted(conn, 50).unwrap() > 0 {}
        assert_consistent(&db, conn, "purging after concurrent writes");
        assert_eq!(dead_keys(conn), 0);
    }
}

backend_test! {
    fn the_servers_worker_purges_a_deleted_cache(db) {
        let app = common::TestApp::spawn(
            &db,
            PluginRegistry::builder().project_app(TestPlugin::writes("writer", "synced")),
            |_| {},
        );
        let cache = app.registry.cache().expect("sodar_cache enabled");
        let conn = &mut **app.conn();
        let project = fx::project(conn, "Purged by the worker", None, None);
        for name in NAMES {
            let data = JsonText::from_value(&json!({ "name": name }));
            cache
                .set_cache_item_json("writer", name, &data, Some(&project), None)
                .unwrap();
        }
        assert_eq!(cache.delete_cache(None, Some(&project)).unwrap(), NAMES.len());
        // The worker purges on its ticks (every 100 ms in tests); generous bound for a
        // loaded machine.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while dead_keys(conn) > 0 {
            assert!(std::time::Instant::now() < deadline, "the worker did not purge");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(rows(conn), [0, 0, 0, 0]);
        assert_eq!(kept(conn).unwrap(), recount(conn).unwrap());
    }
}
