//! The migration 2026-12-04-100001_deleted_scopes on a database that already holds
//! data, on both backends. The database is migrated fully by the server's path, gets
//! items in two projects and site-wide (with kept versions and previews), and then one
//! project's whole cache is deleted and written again, so that it holds dead rows under
//! the project's old key and live rows under its moved key. Reverting this one
//! migration must delete exactly the dead rows with their versions, previews and data,
//! keep every live row with its project, data and history, and give back the old shape:
//! no `cache_dead_keys`, no `projects.cache_key` or `cache_items.key_override`, the item
//! key back to COALESCE(project_id, 0), the same triggers and indexes, and (SQLite) a
//! database that passes its integrity and foreign key checks. Migrating up again must
//! restore the schema exactly as it was, every item must be readable through the public
//! API with its history, the kept aggregates must equal a recount, and deleting a
//! project's whole cache and purging it must still work.

mod common;

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_migrations::MigrationHarness;
use serde_json::json;
use sodarcache::cache::{PREVIEW_ABOVE_BYTES, SodarCache};
use sodarcache::db::models::kept_stats::{kept, recount};
use sodarcache::db::models::{CacheItem, ItemVersion, Project};
use sodarcache::db::{DbConn, JsonText};
use sodarcache::plugins::PluginRegistry;

use common::fixtures as fx;
use common::migrations::{PG_MIGRATIONS, SQLITE_MIGRATIONS, raw};
use common::plugins::TestPlugin;
use common::rows::{LIVE, count, outliving_their_item};
use common::{Backend, TestDb};

const APPS: [&str; 2] = ["writer", "other"];
const NAMES: [&str; 2] = ["a", "b"];

/// This migration's version as Diesel spells it; it is the newest one.
const THIS: &str = "20261204100001";

/// Reverts this migration alone, after checking that it is the newest one applied.
fn revert_this(conn: &mut DbConn) {
    macro_rules! on {
        ($c:expr, $source:expr) => {{
            let applied: Vec<String> = $c
                .applied_migrations()
                .unwrap()
                .iter()
                .map(|v| v.to_string())
                .collect();
            assert_eq!(
                applied.iter().max().map(String::as_str),
                Some(THIS),
                "this migration is the newest one applied: {applied:?}"
            );
            let all = diesel::migration::MigrationSource::migrations(&$source).unwrap();
            let mut this: Vec<_> = all
                .into_iter()
                .filter(|m| m.name().version().to_string() == THIS)
                .collect();
            assert_eq!(this.len(), 1, "one migration has this version");
            $c.revert_migration(&*this.remove(0)).unwrap();
            let applied = $c.applied_migrations().unwrap();
            assert!(
                !applied.iter().any(|v| v.to_string() == THIS),
                "the migration is no longer recorded as applied"
            );
        }};
    }
    match conn {
        DbConn::Sqlite(c) => on!(c, SQLITE_MIGRATIONS),
        DbConn::Pg(c) => on!(c, PG_MIGRATIONS),
    }
}

/// SQLite: `PRAGMA integrity_check` is "ok" and no foreign key is violated.
fn assert_sqlite_intact(db: &TestDb, conn: &mut DbConn, step: &str) {
    if db.backend != Backend::Sqlite {
        return;
    }
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = Text)]
        integrity_check: String,
    }
    let check: Vec<String> = diesel::sql_query("PRAGMA integrity_check")
        .load::<Check>(conn)
        .unwrap()
        .into_iter()
        .map(|c| c.integrity_check)
        .collect();
    assert_eq!(check, ["ok"], "integrity check after {step}");
    let violations = count(conn, "SELECT COUNT(*) AS n FROM pragma_foreign_key_check");
    assert_eq!(violations, 0, "foreign key violations after {step}");
}

/// One row of `cache_items` with its data, read by raw SQL.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    project_id: Option<i64>,
    #[diesel(sql_type = Text)]
    app_name: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    data: String,
}

/// The rows of `cache_items` matching `filter` (a WHERE clause or nothing), by id, with
/// their data through `cache_item_data`.
fn item_rows(conn: &mut DbConn, filter: &str) -> Vec<Row> {
    diesel::sql_query(format!(
        "SELECT CAST(cache_items.id AS BIGINT) AS id, \
                CAST(cache_items.project_id AS BIGINT) AS project_id, \
                cache_items.app_name AS app_name, cache_items.name AS name, \
                CAST(cache_items.version AS BIGINT) AS version, CAST(d.data AS TEXT) AS data \
         FROM cache_items JOIN cache_item_data d ON d.id = cache_items.data_id \
         {filter} ORDER BY cache_items.id"
    ))
    .load(conn)
    .unwrap()
}

/// One kept version with its data, read by raw SQL.
#[derive(QueryableByName, Debug, Clone, PartialEq, Eq)]
struct Version {
    #[diesel(sql_type = BigInt)]
    item_id: i64,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    data: String,
}

/// The kept versions of the items matching `filter`, by item and version.
fn version_rows(conn: &mut DbConn, filter: &str) -> Vec<Version> {
    diesel::sql_query(format!(
        "SELECT CAST(v.item_id AS BIGINT) AS item_id, CAST(v.version AS BIGINT) AS version, \
                CAST(d.data AS TEXT) AS data \
         FROM cache_item_versions v JOIN cache_item_data d ON d.id = v.data_id \
         JOIN cache_items ON cache_items.id = v.item_id \
         {filter} ORDER BY v.item_id, v.version"
    ))
    .load(conn)
    .unwrap()
}

/// Items, versions, previews, data rows: everything physically there.
fn table_rows(conn: &mut DbConn) -> [i64; 4] {
    [
        "cache_items",
        "cache_item_versions",
        "cache_item_previews",
        "cache_item_data",
    ]
    .map(|t| count(conn, &format!("SELECT COUNT(*) AS n FROM {t}")))
}

fn table_exists(conn: &mut DbConn, table: &str) -> bool {
    let sql = match conn {
        DbConn::Sqlite(_) => format!(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
        ),
        DbConn::Pg(_) => format!(
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_name = '{table}'"
        ),
    };
    count(conn, &sql) > 0
}

fn column_exists(conn: &mut DbConn, table: &str, column: &str) -> bool {
    let sql = match conn {
        DbConn::Sqlite(_) => format!(
            "SELECT COUNT(*) AS n FROM pragma_table_xinfo('{table}') WHERE name = '{column}'"
        ),
        DbConn::Pg(_) => format!(
            "SELECT COUNT(*) AS n FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{table}' AND column_name = '{column}'"
        ),
    };
    count(conn, &sql) > 0
}

/// The definition of the generated column `cache_items.project_key`: SQLite's stored
/// CREATE TABLE text, PostgreSQL's generation expression.
fn project_key_definition(conn: &mut DbConn) -> String {
    #[derive(QueryableByName)]
    struct Def {
        #[diesel(sql_type = Text)]
        def: String,
    }
    let sql = match conn {
        DbConn::Sqlite(_) => {
            "SELECT sql AS def FROM sqlite_master WHERE type = 'table' AND name = 'cache_items'"
        }
        DbConn::Pg(_) => {
            "SELECT generation_expression AS def FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = 'cache_items' \
               AND column_name = 'project_key' AND is_generated = 'ALWAYS'"
        }
    };
    diesel::sql_query(sql).get_result::<Def>(conn).unwrap().def
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Object {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    def: String,
}

const TABLES: &str = "('cache_items', 'cache_item_versions', 'cache_item_previews', \
                      'cache_item_data', 'cache_dead_keys', 'projects')";

/// The tables this migration touches with their triggers, indexes and constraints
/// (PostgreSQL: and the aggregate trigger functions), each with its definition.
fn objects(conn: &mut DbConn) -> BTreeSet<Object> {
    let sql = match conn {
        DbConn::Sqlite(_) => format!(
            "SELECT type AS kind, name, COALESCE(sql, '') AS def FROM sqlite_master \
             WHERE type IN ('table', 'index', 'trigger') AND tbl_name IN {TABLES}"
        ),
        DbConn::Pg(_) => format!(
            "SELECT 'trigger' AS kind, tgname::text AS name, pg_get_triggerdef(oid) AS def \
             FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text IN {TABLES} \
             UNION ALL SELECT 'index', indexname::text, indexdef FROM pg_indexes \
             WHERE schemaname = 'public' AND tablename IN {TABLES} \
             UNION ALL SELECT 'table', tablename::text, '' FROM pg_tables \
             WHERE schemaname = 'public' AND tablename IN {TABLES} \
             UNION ALL SELECT 'constraint', conname::text, pg_get_constraintdef(oid) \
             FROM pg_constraint WHERE conrelid::regclass::text IN {TABLES} \
             UNION ALL SELECT 'function', proname::text, prosrc FROM pg_proc \
             WHERE proname IN ('cache_items_stats_insert', 'cache_items_stats_delete', \
                               'cache_items_stats_update')"
        ),
    };
    diesel::sql_query(sql)
        .load::<Object>(conn)
        .unwrap()
        .into_iter()
        .collect()
}

/// `(kind, name)` of each object.
fn names(objects: &BTreeSet<Object>) -> BTreeSet<(String, String)> {
    objects
        .iter()
        .map(|o| (o.kind.clone(), o.name.clone()))
        .collect()
}

fn dead_keys(conn: &mut DbConn) -> i64 {
    count(conn, "SELECT COUNT(*) AS n FROM cache_dead_keys")
}

/// Calls `purge_deleted(conn, 2)` until it returns 0, checking the aggregates after
/// each call, and returns how many rows the calls removed together.
fn purge_all(conn: &mut DbConn) -> usize {
    let mut removed = 0;
    for call in 1..=100 {
        let n = CacheItem::purge_deleted(conn, 2).unwrap();
        assert!(n <= 2, "call {call} of purge_deleted(2) removed {n} rows");
        assert_eq!(
            kept(conn).unwrap(),
            recount(conn).unwrap(),
            "after purge call {call}"
        );
        if n == 0 {
            return removed;
        }
        removed += n;
    }
    panic!("purge_deleted(2) still removing rows after 100 calls ({removed} removed)");
}

fn registry(db: &TestDb, pool: &sodarcache::db::DbPool) -> PluginRegistry {
    PluginRegistry::builder()
        .project_app(TestPlugin::writes("writer", "synced"))
        .project_app(TestPlugin::writes("other", "also"))
        .build(pool.clone(), &db.settings())
}

fn write(cache: &SodarCache, app: &str, name: &str, data: serde_json::Value, p: Option<&Project>) {
    cache
        .set_cache_item_json(app, name, &JsonText::from_value(&data), p, None)
        .unwrap();
}

/// What the fully migrated database held before the down migration.
struct Before {
    p1: Project,
    p2: Project,
    live: Vec<Row>,
    live_versions: Vec<Version>,
    dead: Vec<Row>,
    objects: BTreeSet<Object>,
    definition: String,
}

backend_test! {
    fn reverting_with_dead_rows_keeps_the_live_items_and_migrating_up_again_restores_it_all(db) {
        // 1. Fully migrated by the server's path; items in two projects and site-wide,
        //    each written twice (a kept version each), a large item (with a preview) in
        //    each project; the first project's cache deleted and written again.
        let before = {
            let pool = db.pool();
            let registry = registry(&db, &pool);
            let cache = registry.cache_unchecked();
            let conn = &mut **pool.get().unwrap();
            let top = fx::category(conn, "Top", None);
            let p1 = fx::project(conn, "P1", Some(&top), None);
            let p2 = fx::project(conn, "P2", Some(&top), None);
            for scope in [Some(&p1), Some(&p2), None] {
                for app in APPS {
                    for name in NAMES {
                        for n in 0..2 {
                            write(cache, app, name, json!({ "n": n, "name": name }), scope);
                        }
                    }
                }
            }
            let large = json!({ "rows": "x".repeat(PREVIEW_ABOVE_BYTES as usize + 1000) });
            write(cache, "writer", "large", large.clone(), Some(&p1));
            write(cache, "other", "large", large, Some(&p2));
            assert_eq!(table_rows(conn), [14, 12, 2, 26], "the fill");

            assert_eq!(cache.delete_cache(None, Some(&p1)).unwrap(), 5, "the first project's items");
            // Written again: live rows under the moved key, one with a kept version.
            for n in 0..2 {
                write(cache, "writer", "a", json!({ "again": n }), Some(&p1));
            }
            write(cache, "writer", "new", json!({ "new": true }), Some(&p1));
            assert_eq!(kept(conn).unwrap(), recount(conn).unwrap(), "before the down migration");

            // The state the down migration has to deal with.
            assert_eq!(table_rows(conn), [16, 13, 2, 29]);
            assert_eq!(dead_keys(conn), 1, "one deleted key");
            let moved = count(
                conn,
                &format!("SELECT COUNT(*) AS n FROM projects WHERE id = {} AND cache_key < 0", p1.id),
            );
            assert_eq!(moved, 1, "the first project has a moved key");
            let overridden = count(conn, "SELECT COUNT(*) AS n FROM cache_items WHERE key_override IS NOT NULL");
            assert_eq!(overridden, 2, "the rows written after the delete are under the moved key");
            let live = item_rows(conn, &format!("WHERE {LIVE}"));
            let dead = item_rows(conn, &format!("WHERE NOT {LIVE}"));
            assert_eq!((live.len(), dead.len()), (11, 5), "live and dead rows");
            assert!(dead.iter().all(|r| r.project_id == Some(p1.id)), "only the first project's rows are dead");
            let p1_live: BTreeSet<&str> = live
                .iter()
                .filter(|r| r.project_id == Some(p1.id))
                .map(|r| r.name.as_str())
                .collect();
            assert_eq!(p1_live, BTreeSet::from(["a", "new"]), "the first project's live items");
            let live_versions = version_rows(conn, &format!("WHERE {LIVE}"));
            assert_eq!(live_versions.len(), 9, "the live items' kept versions");
            let objects = objects(conn);
            let naming_new: Vec<&str> = objects
                .iter()
                .filter(|o| o.def.contains("cache_dead_keys") || o.def.contains("key_override"))
                .map(|o| o.name.as_str())
                .collect();
            assert!(naming_new.len() >= 4, "the aggregate triggers read cache_dead_keys: {naming_new:?}");
            let definition = project_key_definition(conn);
            assert!(definition.contains("key_override"), "the new item key: {definition}");
            drop(registry);
            Before { p1, p2, live, live_versions, dead, objects, definition }
        };

        // 2. Down, on a raw connection (the pool is closed).
        let mut down = raw(&db);
        revert_this(&mut down);
        let conn = &mut down;
        assert_sqlite_intact(&db, conn, "the down migration");

        // The dead rows went with their versions, previews and data; the live ones
        // stayed with theirs.
        assert_eq!(item_rows(conn, ""), before.live, "the live rows, their projects and data");
        assert_eq!(version_rows(conn, ""), before.live_versions, "the live items' versions");
        assert_eq!(table_rows(conn), [11, 9, 1, 20], "items, versions, previews, data rows");
        assert_eq!(outliving_their_item(conn), 0, "versions or previews without their item");
        for gone in &before.dead {
            let n = count(conn, &format!("SELECT COUNT(*) AS n FROM cache_items WHERE id = {}", gone.id));
            assert_eq!(n, 0, "dead row {} ({}:{}) is still there", gone.id, gone.app_name, gone.name);
        }
        // Every live row is found under its project id by the item key's index.
        for row in &before.live {
            let found = count(
                conn,
                &format!(
                    "SELECT COUNT(*) AS n FROM cache_items WHERE project_key = {} \
                     AND app_name = '{}' AND name = '{}'",
                    row.project_id.unwrap_or(0),
                    row.app_name,
                    row.name
                ),
            );
            assert_eq!(found, 1, "{}:{} in {:?} by its key", row.app_name, row.name, row.project_id);
        }
        let off_key = count(
            conn,
            "SELECT COUNT(*) AS n FROM cache_items WHERE project_key <> COALESCE(project_id, 0)",
        );
        assert_eq!(off_key, 0, "every row's key is its project id");

        // The old shape.
        assert!(!table_exists(conn, "cache_dead_keys"), "cache_dead_keys is gone");
        assert!(!column_exists(conn, "cache_items", "key_override"), "cache_items.key_override is gone");
        assert!(!column_exists(conn, "projects", "cache_key"), "projects.cache_key is gone");
        assert!(column_exists(conn, "cache_items", "project_key"), "cache_items.project_key is there");
        let old = project_key_definition(conn);
        assert!(!old.contains("key_override"), "the old item key: {old}");
        match db.backend {
            Backend::Sqlite => assert!(
                old.contains("COALESCE(project_id, 0)) VIRTUAL"),
                "the old generated column: {old}"
            ),
            Backend::Postgres => assert!(
                old.starts_with("COALESCE(project_id,") && old.contains('0'),
                "the old generated column: {old}"
            ),
        }
        let restored = objects(conn);
        let (had, has) = (names(&before.objects), names(&restored));
        let added: Vec<_> = has.difference(&had).collect();
        assert!(added.is_empty(), "the down migration added objects: {added:?}");
        let removed: BTreeSet<(String, String)> = had.difference(&has).cloned().collect();
        for required in [("table", "cache_dead_keys"), ("index", "projects_cache_key")] {
            let required = (required.0.to_owned(), required.1.to_owned());
            assert!(removed.contains(&required), "{required:?} is gone: {removed:?}");
        }
        let unexpected: Vec<_> = removed
            .iter()
            .filter(|(_, name)| {
                !["cache_dead_keys", "projects_cache_key", "cache_items_key_override"]
                    .iter()
                    .any(|p| name.starts_with(p))
            })
            .collect();
        assert!(unexpected.is_empty(), "the down migration lost objects: {unexpected:?}");
        let mentions_dead: Vec<&str> = restored
            .iter()
            .filter(|o| o.def.contains("cache_dead_keys") || o.def.contains("key_override"))
            .map(|o| o.name.as_str())
            .collect();
        assert!(mentions_dead.is_empty(), "objects of the old shape naming the new one: {mentions_dead:?}");

        // 3. Up again, as a server start does.
        drop(down);
        let pool = db.pool();
        let registry = registry(&db, &pool);
        let cache = registry.cache_unchecked();
        let conn = &mut **pool.get().unwrap();
        assert_sqlite_intact(&db, conn, "migrating up again");
        let again = objects(conn);
        let changed: Vec<_> = before.objects.symmetric_difference(&again).collect();
        assert!(changed.is_empty(), "the schema differs from the first migration's: {changed:#?}");
        assert_eq!(project_key_definition(conn), before.definition);
        assert_eq!(dead_keys(conn), 0, "no deleted key");
        let overridden = count(conn, "SELECT COUNT(*) AS n FROM cache_items WHERE key_override IS NOT NULL");
        assert_eq!(overridden, 0, "every row under its project id");
        let moved = count(conn, "SELECT COUNT(*) AS n FROM projects WHERE cache_key IS NOT NULL");
        assert_eq!(moved, 0, "every project under its id");
        assert_eq!(item_rows(conn, &format!("WHERE {LIVE}")), before.live, "the rows after up again");

        // Every item through the public API, with its history.
        let project = |id: Option<i64>| match id {
            None => None,
            Some(id) if id == before.p1.id => Some(&before.p1),
            Some(id) if id == before.p2.id => Some(&before.p2),
            Some(id) => panic!("an item in unknown project {id}"),
        };
        for row in &before.live {
            let key = format!("{}:{} in {:?}", row.app_name, row.name, row.project_id);
            let item = cache.get_cache_item(&row.app_name, &row.name, project(row.project_id)).unwrap();
            let item = item.unwrap_or_else(|| panic!("{key} is not readable"));
            assert_eq!((item.id, item.version), (row.id, row.version), "{key}");
            assert_eq!(item.data.as_str(), row.data, "{key}'s data");
        }
        for v in &before.live_versions {
            let found = ItemVersion::find(conn, v.item_id, v.version).unwrap();
            let found = found.unwrap_or_else(|| panic!("version {} of item {}", v.version, v.item_id));
            assert_eq!(found.data.as_str(), v.data, "version {} of item {}", v.version, v.item_id);
        }
        assert_eq!(kept(conn).unwrap(), recount(conn).unwrap(), "after up again");

        // A write continues the item written after the delete.
        let a = before.live.iter().find(|r| r.project_id == Some(before.p1.id) && r.name == "a").unwrap();
        let data = JsonText::from_value(&json!({ "after": "up again" }));
        let written = cache.set_cache_item_json("writer", "a", &data, Some(&before.p1), None).unwrap();
        assert_eq!((written.id, written.version), (a.id, a.version + 1), "the same item, a new version");
        assert_eq!(ItemVersion::find(conn, a.id, a.version).unwrap().unwrap().data.as_str(), a.data);
        assert_eq!(kept(conn).unwrap(), recount(conn).unwrap(), "after a write");

        // Deleting whole project caches and purging them still work.
        assert_eq!(cache.delete_cache(None, Some(&before.p1)).unwrap(), 2, "the first project's items");
        assert_eq!(cache.delete_cache(None, Some(&before.p2)).unwrap(), 5, "the second project's items");
        assert_eq!(dead_keys(conn), 2);
        for (app, name) in [("writer", "a"), ("writer", "new"), ("other", "b"), ("other", "large")] {
            for p in [&before.p1, &before.p2] {
                assert!(cache.get_cache_item(app, name, Some(p)).unwrap().is_none(), "{app}:{name} read after the delete");
            }
        }
        assert_eq!(kept(conn).unwrap(), recount(conn).unwrap(), "after the deletes");
        assert_eq!(purge_all(conn), 7, "every dead row, no live one");
        assert_eq!(dead_keys(conn), 0, "no deleted key left");
        assert_eq!(table_rows(conn), [4, 4, 0, 8], "the site-wide items and their versions");
        assert_eq!(outliving_their_item(conn), 0);
        for app in APPS {
            for name in NAMES {
                let item = cache.get_cache_item(app, name, None).unwrap();
                assert!(item.is_some(), "site-wide {app}:{name} after the purge");
            }
        }
        assert_eq!(kept(conn).unwrap(), recount(conn).unwrap(), "after the purge");
        assert_sqlite_intact(&db, conn, "the purge");
    }
}
