//! Item data apart from the item row (`cache_item_data`, migration 991001): every data
//! row belongs to exactly one item or kept version, and no write or delete leaves one
//! behind or takes one too many; the data read back is the data written, for items and
//! for every kept version. A random sequence of every kind of write and delete on both
//! backends (single set of new, changed and unchanged data, large data, bulk set, a
//! plugin sync, deletes of one item, an app's, a scope's, a project, history settings
//! 0-5), checked after each step. And the migration moves existing data without loss,
//! keeps the schema's triggers and indexes, and its down migration restores the old
//! shape with the data.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::MigrationHarness;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sodarcache::cache::CacheWrite;
use sodarcache::cache::jobs::{request_sync, run_job};
use sodarcache::db::models::{CacheItem, ItemVersion, JobStatus, Origin, Project, SyncJob};
use sodarcache::db::schema::projects;
use sodarcache::db::{DbConn, JsonText, Scope};
use sodarcache::plugins::PluginRegistry;

use common::Backend;
use common::fixtures as fx;
use common::migrations::{PG_MIGRATIONS, SQLITE_MIGRATIONS, raw};
use common::plugins::TestPlugin;
use common::rows::{count, outliving_their_item};

const APPS: [&str; 2] = ["writer", "other"];

/// Every data row has one owner, and every item and version has its data row.
fn assert_owned(conn: &mut DbConn, step: &str) {
    let orphans = count(
        conn,
        "SELECT COUNT(*) AS n FROM cache_item_data d \
         WHERE NOT EXISTS (SELECT 1 FROM cache_items i WHERE i.data_id = d.id) \
           AND NOT EXISTS (SELECT 1 FROM cache_item_versions v WHERE v.data_id = d.id)",
    );
    assert_eq!(
        orphans, 0,
        "data rows without an item or version after {step}"
    );
    let rows = count(conn, "SELECT COUNT(*) AS n FROM cache_item_data");
    let owners = count(
        conn,
        "SELECT (SELECT COUNT(*) FROM cache_items) + (SELECT COUNT(*) FROM cache_item_versions) AS n",
    );
    assert_eq!(
        rows, owners,
        "one data row per item and version after {step}"
    );
    let missing = count(
        conn,
        "SELECT COUNT(*) AS n FROM cache_items i \
         WHERE NOT EXISTS (SELECT 1 FROM cache_item_data d WHERE d.id = i.data_id)",
    ) + count(
        conn,
        "SELECT COUNT(*) AS n FROM cache_item_versions v \
         WHERE NOT EXISTS (SELECT 1 FROM cache_item_data d WHERE d.id = v.data_id)",
    );
    assert_eq!(missing, 0, "items or versions without data after {step}");
    let outlived = outliving_their_item(conn);
    assert_eq!(
        outlived, 0,
        "versions or previews without their item after {step}"
    );
}

/// What was written at a key: each version's data, oldest first (version 1 first).
type Model = BTreeMap<(Option<i64>, &'static str, &'static str), Vec<JsonText>>;

/// Items and kept versions read back as written; versions beyond the setting pruned.
fn assert_model(conn: &mut DbConn, model: &Model, keep: i64, step: &str) {
    for ((project, app, name), written) in model {
        let item = CacheItem::find(conn, Scope::from_project_id(*project), app, name)
            .unwrap()
            .unwrap_or_else(|| panic!("{app}/{name} in {project:?} is gone after {step}"));
        assert_eq!(item.version, written.len() as i64, "version after {step}");
        assert_eq!(&item.data, written.last().unwrap(), "data after {step}");
        let versions = ItemVersion::list_for_item(conn, item.id).unwrap();
        for v in &versions {
            let found = ItemVersion::find(conn, item.id, v.version)
                .unwrap()
                .unwrap();
            assert_eq!(
                &found.data,
                &written[(v.version - 1) as usize],
                "version {} of {app}/{name} after {step}",
                v.version
            );
        }
        // Pruning happens at an item's next change, so a lowered setting may leave more.
        if keep == 0 {
            continue;
        }
        assert!(
            versions.iter().all(|v| v.version >= item.version - 5),
            "at most 5 versions kept after {step}"
        );
    }
}

fn data(rng: &mut StdRng) -> JsonText {
    // Few lengths, so the same data is written again often (no new version, no row).
    let len = rng.random_range(0..8) * 10;
    JsonText::from_value(&json!({ "pad": "x".repeat(len) }))
}

/// Data above PostgreSQL's `COPY` threshold (1 MiB) and SQLite's unchecked size.
fn large(rng: &mut StdRng) -> JsonText {
    let fill = ["a", "b"][rng.random_range(0..2)];
    JsonText::from_value(&json!({ "rows": fill.repeat(1_100_000) }))
}

backend_test! {
    fn no_write_or_delete_leaves_a_data_row_behind(db) {
        let pool = db.pool();
        let registry = PluginRegistry::builder()
            .project_app(TestPlugin::writes("writer", "synced"))
            .project_app(TestPlugin::writes("other", "also"))
            .build(pool.clone(), &db.settings());
        let cache = registry.cache_unchecked();
        let conn = &mut **pool.get().unwrap();
        let root = fx::user(conn, "root", true);
        let top = fx::category(conn, "Top", None);
        let mut projects: Vec<Project> = (0..3)
            .map(|i| fx::project(conn, &format!("P{i}"), Some(&top), None))
            .collect();
        let mut rng = StdRng::seed_from_u64(9_91);
        let names: [&'static str; 5] = ["a", "b", "c", "d", "e"];
        let mut model = Model::new();
        let mut keep = 5;
        let mut kinds = BTreeSet::new();
        let write = |model: &mut Model, key, d: &JsonText| {
            let versions = model.entry(key).or_default();
            if versions.last() != Some(d) {
                versions.push(d.clone());
            }
        };
        for step in 0..200 {
            let project = (rng.random_range(0..5) > 0 && !projects.is_empty())
                .then(|| projects[rng.random_range(0..projects.len())].clone());
            let pid = project.as_ref().map(|p| p.id);
            let app = APPS[rng.random_range(0..APPS.len())];
            let name = names[rng.random_range(0..names.len())];
            let what = match rng.random_range(0..100) {
                0..35 => {
                    let d = data(&mut rng);
                    let before = model.get(&(pid, app, name)).and_then(|v| v.last()).cloned();
                    cache.set_cache_item_json(app, name, &d, project.as_ref(), Some(&root)).unwrap();
                    write(&mut model, (pid, app, name), &d);
                    if before.as_ref() == Some(&d) { "set unchanged" } else { "set changed or new" }
                }
                35..39 => {
                    let d = large(&mut rng);
                    cache.set_cache_item_json(app, name, &d, project.as_ref(), None).unwrap();
                    write(&mut model, (pid, app, name), &d);
                    "set large"
                }
                39..55 => {
                    let mut picked: Vec<(&'static str, JsonText)> = Vec::new();
                    for n in names {
                        if rng.random_bool(0.6) {
                            picked.push((n, data(&mut rng)));
                        }
                    }
                    let writes: Vec<CacheWrite<'_>> = picked
                        .iter()
                        .map(|(n, d)| CacheWrite {
                            app_name: app,
                            name: n,
                            data: d.clone(),
                            project: project.as_ref(),
                            user: None,
                        })
                        .collect();
                    cache.set_cache_items(&writes).unwrap();
                    for (n, d) in &picked {
                        write(&mut model, (pid, app, n), d);
                    }
                    "bulk set"
                }
                55..68 => {
                    cache.delete_cache_item(app, name, project.as_ref()).unwrap();
                    model.remove(&(pid, app, name));
                    "delete one"
                }
                68..73 => {
                    // No project: the app's items everywhere.
                    cache.delete_cache(Some(app), project.as_ref()).unwrap();
                    model.retain(|(p, a, _), _| !((pid.is_none() || *p == pid) && *a == app));
                    "delete one app's items"
                }
                73..76 => {
                    // No project: every item.
                    cache.delete_cache(None, project.as_ref()).unwrap();
                    model.retain(|(p, _, _), _| pid.is_some() && *p != pid);
                    "delete a scope's items"
                }
                76..80 if !projects.is_empty() => {
                    let gone = projects.remove(rng.random_range(0..projects.len()));
                    diesel::delete(projects::table.find(gone.id)).execute(conn).unwrap();
                    model.retain(|(p, _, _), _| *p != Some(gone.id));
                    "delete a project"
                }
                76..82 => {
                    projects.push(fx::project(conn, &format!("New {step}"), Some(&top), None));
                    "create a project"
                }
                82..88 => {
                    let (job, _) = request_sync(conn, project.as_ref(), None, Origin::Web, None).unwrap();
                    let claimed = SyncJob::claim_next(conn, "w").unwrap().unwrap();
                    assert_eq!(claimed.uuid, job.uuid);
                    let (finished, _) = run_job(registry.runner(), &claimed, None).unwrap();
                    assert_eq!(finished.status, JobStatus::Done);
                    "plugin sync"
                }
                _ => {
                    keep = [0, 1, 3, 5][rng.random_range(0..4)];
                    ItemVersion::set_keep(conn, keep as u32).unwrap();
                    let d = data(&mut rng);
                    cache.set_cache_item_json(app, name, &d, project.as_ref(), None).unwrap();
                    write(&mut model, (pid, app, name), &d);
                    "history setting"
                }
            };
            let step = format!("step {step}: {what} ({app}, {name}, {project:?}, keep {keep})");
            assert_owned(conn, &step);
            assert_model(conn, &model, keep, &step);
            kinds.insert(what);
        }
        assert_eq!(kinds.len(), 11, "every kind of write ran: {kinds:?}");
        assert!(!model.is_empty(), "the sequence left items");
        let versions = count(conn, "SELECT COUNT(*) AS n FROM cache_item_versions");
        assert!(versions > 0, "the sequence kept versions");
    }
}

/// This migration's version as Diesel spells it (the directory's prefix without its
/// dashes); everything before it is the old shape.
const THIS: &str = "20261201991001";

/// Runs the migrations before this one (`up`), or reverts this one alone.
fn migrate_around_this(conn: &mut DbConn, up: bool) {
    macro_rules! on {
        ($c:expr, $source:expr) => {{
            diesel::migration::MigrationConnection::setup($c).unwrap();
            let mut all = diesel::migration::MigrationSource::migrations(&$source).unwrap();
            all.sort_by_key(|m| m.name().version().to_string());
            for m in all {
                let version = m.name().version().to_string();
                if up && version.as_str() < THIS {
                    $c.run_migration(&*m).unwrap();
                } else if !up && version.starts_with(THIS) {
                    $c.revert_migration(&*m).unwrap();
                }
            }
        }};
    }
    match conn {
        DbConn::Sqlite(c) => on!(c, SQLITE_MIGRATIONS),
        DbConn::Pg(c) => on!(c, PG_MIGRATIONS),
    }
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct Object {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    name: String,
}

/// The tables this migration touches, with their triggers and indexes (later
/// migrations may change those of other tables).
fn objects(conn: &mut DbConn) -> BTreeSet<Object> {
    let tables = "('cache_items', 'cache_item_versions', 'cache_item_previews', 'cache_item_data')";
    let sql = match conn {
        DbConn::Sqlite(_) => format!(
            "SELECT type AS kind, name FROM sqlite_master \
             WHERE type IN ('table', 'index', 'trigger') AND tbl_name IN {tables}"
        ),
        DbConn::Pg(_) => format!(
            "SELECT 'trigger' AS kind, tgname::text AS name FROM pg_trigger \
             WHERE NOT tgisinternal AND tgrelid::regclass::text IN {tables} \
             UNION ALL SELECT 'index', indexname::text FROM pg_indexes \
             WHERE schemaname = 'public' AND tablename IN {tables} \
             UNION ALL SELECT 'table', tablename::text FROM pg_tables \
             WHERE schemaname = 'public' AND tablename IN {tables}"
        ),
    };
    diesel::sql_query(sql)
        .load::<Object>(conn)
        .unwrap()
        .into_iter()
        .collect()
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Stored {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    data: String,
}

backend_test! {
    fn the_migration_moves_the_data_and_its_down_restores_the_old_shape(db) {
        let mut conn = raw(&db);
        migrate_around_this(&mut conn, true);
        // Old shape: data in the rows. Two items, one with two kept versions.
        let docs = ["{\"v\": 1}", "{\"v\": 2}", "{\"v\": 3}", "[\"other\", 4]"];
        let insert_item = |conn: &mut DbConn, name: &str, data: &str, version: i64| {
            diesel::sql_query(format!(
                "INSERT INTO cache_items (uuid, app_name, name, data, size_bytes, date_modified, \
                 data_sha256, version) VALUES ('{}', 'app', '{name}', '{data}', {}, \
                 '2026-12-01 10:00:00', '{}', {version})",
                uuid::Uuid::new_v4(),
                data.len(),
                JsonText::parse(data).unwrap().sha256_hex()
            ))
            .execute(conn)
            .unwrap();
        };
        insert_item(&mut conn, "kept", docs[2], 3);
        insert_item(&mut conn, "plain", docs[3], 1);
        for (version, data) in [(1, docs[0]), (2, docs[1])] {
            diesel::sql_query(format!(
                "INSERT INTO cache_item_versions (item_id, version, data, size_bytes, date_modified) \
                 SELECT id, {version}, '{data}', {}, '2026-12-01 09:00:00' FROM cache_items \
                 WHERE name = 'kept'",
                data.len()
            ))
            .execute(&mut conn)
            .unwrap();
        }
        let before = objects(&mut conn);
        drop(conn);

        // Up (with every later migration), as a server start does.
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let after = objects(conn);
        let added: BTreeSet<&str> = after.difference(&before).map(|o| o.name.as_str()).collect();
        let mut expected = vec!["cache_item_data", "cache_items_data", "cache_item_versions_data",
                                "cache_items_drop_data", "cache_item_versions_drop_data"];
        if db.backend == Backend::Sqlite {
            // PostgreSQL's one statement trigger does both.
            expected.push("cache_items_release_data");
        }
        for name in expected {
            assert!(added.contains(name), "{name} was created: {added:?}");
        }
        let lost: Vec<&Object> = before.difference(&after).collect();
        assert!(lost.is_empty(), "the migration lost triggers or indexes: {lost:?}");
        if db.backend == Backend::Sqlite {
            #[derive(QueryableByName)]
            struct Check {
                #[diesel(sql_type = Text)]
                integrity_check: String,
            }
            let check = diesel::sql_query("PRAGMA integrity_check").load::<Check>(conn).unwrap();
            assert_eq!(check.len(), 1);
            assert_eq!(check[0].integrity_check, "ok");
            assert_eq!(count(conn, "SELECT COUNT(*) AS n FROM pragma_foreign_key_check"), 0);
            let not_null = count(
                conn,
                "SELECT (SELECT \"notnull\" FROM pragma_table_info('cache_items') WHERE name = 'data_id') \
                 + (SELECT \"notnull\" FROM pragma_table_info('cache_item_versions') WHERE name = 'data_id') AS n",
            );
            assert_eq!(not_null, 2, "data_id is NOT NULL in both tables");
        }
        let kept = CacheItem::find(conn, Scope::Site, "app", "kept").unwrap().unwrap();
        assert_eq!(kept.data.as_str(), docs[2]);
        assert_eq!(kept.version, 3);
        for (version, data) in [(1, docs[0]), (2, docs[1])] {
            let v = ItemVersion::find(conn, kept.id, version).unwrap().unwrap();
            assert_eq!(v.data.as_str(), data);
        }
        let plain = CacheItem::find(conn, Scope::Site, "app", "plain").unwrap().unwrap();
        assert_eq!(plain.data.as_str(), docs[3]);
        assert_owned(conn, "the migration");

        // New writes go on from the moved rows: a changed item keeps its moved data.
        let registry = PluginRegistry::builder()
            .project_app(TestPlugin::writes("app", "synced"))
            .build(pool.clone(), &db.settings());
        let cache = registry.cache_unchecked();
        let new = JsonText::parse("{\"v\": 5}").unwrap();
        cache.set_cache_item_json("app", "plain", &new, None, None).unwrap();
        let plain = CacheItem::find(conn, Scope::Site, "app", "plain").unwrap().unwrap();
        assert_eq!(plain.version, 2);
        assert_eq!(ItemVersion::find(conn, plain.id, 1).unwrap().unwrap().data.as_str(), docs[3]);
        assert_owned(conn, "a write after the migration");
        drop(registry);
        drop(pool);

        // Down: the old shape, with the data (the version just made included).
        let mut conn = raw(&db);
        migrate_around_this(&mut conn, false);
        let restored = objects(&mut conn);
        let gone: Vec<&Object> = before.difference(&restored).collect();
        assert!(gone.is_empty(), "the down migration lost triggers or indexes: {gone:?}");
        assert!(
            !restored.iter().any(|o| o.name == "cache_item_data"),
            "the data table is gone"
        );
        let rows = diesel::sql_query(
            "SELECT name, CAST(data AS TEXT) AS data FROM cache_items ORDER BY name",
        )
        .load::<Stored>(&mut conn)
        .unwrap();
        assert_eq!(
            rows,
            [
                Stored { name: "kept".into(), data: docs[2].into() },
                Stored { name: "plain".into(), data: "{\"v\": 5}".into() },
            ]
        );
        let versions = diesel::sql_query(
            "SELECT CAST(version AS TEXT) AS name, CAST(data AS TEXT) AS data \
             FROM cache_item_versions ORDER BY item_id, version",
        )
        .load::<Stored>(&mut conn)
        .unwrap();
        assert_eq!(
            versions,
            [
                Stored { name: "1".into(), data: docs[0].into() },
                Stored { name: "2".into(), data: docs[1].into() },
                Stored { name: "1".into(), data: docs[3].into() },
            ]
        );
        // The restored history trigger works on the old shape.
        diesel::sql_query(
            "UPDATE cache_items SET data = '{\"v\": 6}', version = version + 1 WHERE name = 'kept'",
        )
        .execute(&mut conn)
        .unwrap();
        assert_eq!(
            count(&mut conn, "SELECT COUNT(*) AS n FROM cache_item_versions WHERE version = 3"),
            1
        );
        // And up again.
        drop(conn);
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let kept = CacheItem::find(conn, Scope::Site, "app", "kept").unwrap().unwrap();
        assert_eq!(kept.data.as_str(), "{\"v\": 6}");
        assert_eq!(ItemVersion::find(conn, kept.id, 3).unwrap().unwrap().data.as_str(), docs[2]);
        assert_owned(conn, "up again");
    }
}
