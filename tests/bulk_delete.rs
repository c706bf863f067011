//! Deleting whole groups of items (`CacheItem::delete_matching`, migration
//! 200001_bulk_delete): by project and app, by project, by app everywhere and the whole
//! cache, with history on and off. After each, the kept aggregates equal a recount, the
//! deleted items' versions, previews and data rows are gone and everyone else's are
//! still there, and on SQLite the marker row that sets the per-row trigger aside is gone
//! again. Both backends.

mod common;

use diesel::prelude::*;
use serde_json::json;
use sodarcache::cache::SodarCache;
use sodarcache::db::models::kept_stats::{kept, recount};
use sodarcache::db::models::{CacheItem, ItemVersion, Project};
use sodarcache::db::{DbConn, JsonText};
use sodarcache::plugins::PluginRegistry;

use common::fixtures as fx;
use common::plugins::TestPlugin;
use common::rows::{count, outliving_their_item};
use common::{Backend, TestDb};

/// Items, versions, previews, data rows.
fn rows(conn: &mut DbConn) -> [i64; 4] {
    [
        "cache_items",
        "cache_item_versions",
        "cache_item_previews",
        "cache_item_data",
    ]
    .map(|t| count(conn, &format!("SELECT COUNT(*) AS n FROM {t}")))
}

const NAMES: [&str; 3] = ["a", "b", "c"];

/// Each app's items `a`, `b`, `c` in each scope, each written twice (a kept version
/// while history is on), and one item over the preview limit in the first project.
fn fill(cache: &SodarCache, scopes: &[Option<&Project>]) {
    for scope in scopes {
        for app in ["writer", "other"] {
            for name in NAMES {
                for n in 0..2 {
                    let data = JsonText::from_value(&json!({ "n": n, "name": name }));
                    cache
                        .set_cache_item_json(app, name, &data, *scope, None)
                        .unwrap();
                }
            }
        }
    }
    let large = JsonText::from_value(&json!({ "rows": "x".repeat(4_300_000) }));
    cache
        .set_cache_item_json("writer", "large", &large, scopes[0], None)
        .unwrap();
}

fn assert_consistent(db: &TestDb, conn: &mut DbConn, step: &str) {
    assert_eq!(kept(conn).unwrap(), recount(conn).unwrap(), "after {step}");
    let [items, versions, _, data] = rows(conn);
    assert_eq!(
        data,
        items + versions,
        "one data row per item and version after {step}"
    );
    let outlived = outliving_their_item(conn);
    assert_eq!(
        outlived, 0,
        "versions or previews without their item after {step}"
    );
    if db.backend == Backend::Sqlite {
        let marker = count(conn, "SELECT COUNT(*) AS n FROM cache_stats_bulk");
        assert_eq!(marker, 0, "the bulk marker is gone after {step}");
    }
}

backend_test! {
    fn every_kind_of_bulk_delete_keeps_the_aggregates_and_takes_what_belongs_to_the_items(db) {
        let pool = db.pool();
        let registry = PluginRegistry::builder()
            .project_app(TestPlugin::writes("writer", "synced"))
            .project_app(TestPlugin::writes("other", "also"))
            .build(pool.clone(), &db.settings());
        let cache = registry.cache_unchecked();
        let conn = &mut **pool.get().unwrap();
        let top = fx::category(conn, "Top", None);
        let p1 = fx::project(conn, "P1", Some(&top), None);
        let p2 = fx::project(conn, "P2", Some(&top), None);
        let scopes = [Some(&p1), Some(&p2), None];

        // History on (the default keeps 5 versions).
        fill(cache, &scopes);
        assert_consistent(&db, conn, "the fill");
        // 3 scopes x 2 apps x 3 names, and the large item; a version of each small one.
        assert_eq!(rows(conn), [19, 18, 1, 37]);

        // One app's items of one project: the large item and its preview with them.
        assert_eq!(cache.delete_cache(Some("writer"), Some(&p1)).unwrap(), 4);
        assert_consistent(&db, conn, "deleting one app's items of a project");
        assert_eq!(rows(conn), [15, 15, 0, 30]);

        // A project's items: invisible at once (the aggregates agree), their rows
        // purged afterwards, in batches.
        assert_eq!(cache.delete_cache(None, Some(&p2)).unwrap(), 6);
        assert_consistent(&db, conn, "deleting a project's items");
        assert_eq!(rows(conn), [15, 15, 0, 30], "rows stay until purged");
        assert_eq!(CacheItem::purge_deleted(conn, 4).unwrap(), 4);
        assert_consistent(&db, conn, "purging part of a deleted project cache");
        assert_eq!(CacheItem::purge_deleted(conn, 4).unwrap(), 2);
        assert_eq!(CacheItem::purge_deleted(conn, 4).unwrap(), 0);
        assert_consistent(&db, conn, "purging a deleted project cache");
        assert_eq!(rows(conn), [9, 9, 0, 18]);
        assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM cache_dead_keys"), 0);

        // One app's items everywhere: the first project's and the site-wide ones.
        assert_eq!(cache.delete_cache(Some("other"), None).unwrap(), 6);
        assert_consistent(&db, conn, "deleting one app's items everywhere");
        assert_eq!(rows(conn), [3, 3, 0, 6]);
        let left: Vec<(Option<i64>, String)> = sodarcache::db::schema::cache_items::table
            .select((
                sodarcache::db::schema::cache_items::project_id,
                sodarcache::db::schema::cache_items::app_name,
            ))
            .distinct()
            .load(conn)
            .unwrap();
        assert_eq!(left, vec![(None, "writer".to_owned())], "only the site-wide writer items");

        // Nothing matching: nothing changes.
        assert_eq!(cache.delete_cache(Some("other"), Some(&p2)).unwrap(), 0);
        assert_consistent(&db, conn, "a delete that matched nothing");

        // History off, filled again: the whole cache.
        ItemVersion::set_keep(conn, 0).unwrap();
        fill(cache, &scopes);
        assert_consistent(&db, conn, "the fill without history");
        assert_eq!(rows(conn)[1], 3, "only the versions kept before history went off");
        assert_eq!(cache.delete_cache(None, None).unwrap(), 19);
        assert_consistent(&db, conn, "deleting the whole cache");
        assert_eq!(rows(conn), [0, 0, 0, 0]);
        let totals = kept(conn).unwrap().totals;
        assert_eq!((totals.projects, totals.items, totals.bytes), (2, 0, 0));

        // The per-row path (a project's cascade) still keeps them after bulk deletes.
        fill(cache, &scopes);
        diesel::delete(sodarcache::db::schema::projects::table.find(p1.id))
            .execute(conn)
            .unwrap();
        assert_consistent(&db, conn, "deleting a project");
        assert_eq!(rows(conn)[0], 12);
    }
}
