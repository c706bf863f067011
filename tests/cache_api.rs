//! The backend API `SodarCache`: upstream's behaviour and our "Here:" fixes, on both backends.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde_json::json;
use sodarcache::cache::{CacheWrite, SodarCache};
use sodarcache::db::models::{CacheItem, NewCacheItem, Project, User};
use sodarcache::db::schema::{cache_items, projects};
use sodarcache::db::{DbPool, DbUuid, JsonText};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};
use sodarcache::settings::Settings;

use common::fixtures as fx;
use common::plugins::TestPlugin;

const APP: &str = "test_app";

/// A registry with the example app and a no-op `test_app`, its pool and its cache.
fn setup(db: &common::TestDb) -> (DbPool, Arc<SodarCache>) {
    let pool = db.pool();
    let registry = PluginRegistry::builder()
        .project_app(ExampleProjectApp)
        .project_app(TestPlugin::noop(APP))
        .build(pool.clone(), &db.settings());
    (
        pool,
        registry.cache().expect("sodar_cache enabled by default"),
    )
}

/// Items in the cache (not the rows of deleted project caches still to be purged).
fn count_items(pool: &DbPool) -> i64 {
    cache_items::table
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            common::rows::LIVE,
        ))
        .count()
        .get_result(&mut **pool.get().unwrap())
        .unwrap()
}

fn epoch(t: chrono::NaiveDateTime) -> f64 {
    t.and_utc().timestamp_micros() as f64 / 1e6
}

backend_test! {
    fn set_cache_item_creates_item_with_all_fields(db) {
        let (pool, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let user = fx::user(&mut conn, "alice", false);
        let project = fx::project(&mut conn, "P", None, None);
        let data = json!({"a": 1, "b": [true, null, "x"]});
        let item = cache.set_cache_item(APP, "item", &data, "json", Some(&project), Some(&user)).unwrap();
        assert_eq!(item.project_id, Some(project.id));
        assert_eq!(item.app_name, APP);
        assert_eq!(item.name, "item");
        assert_eq!(item.data.to_value(), data);
        assert_eq!(item.user_id, Some(user.id));
        // The text is kept as written on both backends, so its size is what reads return.
        assert_eq!(item.size_bytes, data.to_string().len() as i64);
        assert_eq!(item.data.as_str(), data.to_string());
        let found = cache.get_cache_item(APP, "item", Some(&project)).unwrap().unwrap();
        assert_eq!(found, item);
    }
}

backend_test! {
    fn set_cache_item_twice_keeps_one_row_and_bumps_date(db) {
        let (pool, cache) = setup(&db);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let first = cache.set_cache_item(APP, "item", &json!({"v": 1}), "json", Some(&project), None).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let second = cache.set_cache_item(APP, "item", &json!({"v": 2}), "json", Some(&project), None).unwrap();
        assert_eq!(count_items(&pool), 1);
        assert_eq!(second.id, first.id);
        assert_eq!(second.uuid, first.uuid, "the uuid is kept on update");
        assert!(second.date_modified > first.date_modified);
        let found = cache.get_cache_item(APP, "item", Some(&project)).unwrap().unwrap();
        assert_eq!(found.data.to_value(), json!({"v": 2}));
        assert_eq!(found.date_modified, second.date_modified);
    }
}

backend_test! {
    fn update_without_user_keeps_previous_user(db) {
        let (pool, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let alice = fx::user(&mut conn, "alice", false);
        let bob = fx::user(&mut conn, "bob", false);
        let project = fx::project(&mut conn, "P", None, None);
        cache.set_cache_item(APP, "item", &json!(1), "json", Some(&project), Some(&alice)).unwrap();
        let kept = cache.set_cache_item(APP, "item", &json!(2), "json", Some(&project), None).unwrap();
        assert_eq!(kept.user_id, Some(alice.id));
        let changed = cache.set_cache_item(APP, "item", &json!(3), "json", Some(&project), Some(&bob)).unwrap();
        assert_eq!(changed.user_id, Some(bob.id));
    }
}

backend_test! {
    fn unknown_app_name_is_rejected_with_upstream_message_and_nothing_written(db) {
        let (pool, cache) = setup(&db);
        let err = cache.set_cache_item("nope", "item", &json!({}), "json", None, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unknown app name \"nope\" (installed apps: example_project_app, sodarcache, test_app)"
        );
        // The app name is checked before the data type, as upstream.
        let err = cache.set_cache_item("nope", "item", &json!({}), "xml", None, None).unwrap_err();
        assert!(err.to_string().starts_with("Unknown app name \"nope\""), "{err}");
        assert_eq!(count_items(&pool), 0);
    }
}

backend_test! {
    fn unknown_data_type_is_rejected_with_upstream_message_and_nothing_written(db) {
        let (pool, cache) = setup(&db);
        let err = cache.set_cache_item(APP, "item", &json!({}), "xml", None, None).unwrap_err();
        assert_eq!(err.to_string(), "Unknown data type \"xml\" for a cache item (allowed types: json)");
        assert!(matches!(err, sodarcache::Error::BadRequest(_)));
        assert_eq!(count_items(&pool), 0);
    }
}

backend_test! {
    fn null_data_is_rejected_and_nothing_written(db) {
        let (pool, cache) = setup(&db);
        let err = cache.set_cache_item(APP, "item", &serde_json::Value::Null, "json", None, None).unwrap_err();
        assert!(matches!(err, sodarcache::Error::BadRequest(_)), "{err:?}");
        assert!(err.to_string().contains("null"), "{err}");
        assert_eq!(count_items(&pool), 0);
    }
}

backend_test! {
    fn list_string_and_number_data_are_accepted(db) {
        let (_, cache) = setup(&db);
        for (name, data) in [("list", json!([1, "two", {"three": 3}])), ("string", json!("text")), ("number", json!(42.5)), ("bool", json!(false))] {
            cache.set_cache_item(APP, name, &data, "json", None, None).unwrap();
            let found = cache.get_cache_item(APP, name, None).unwrap().unwrap();
            assert_eq!(found.data.to_value(), data, "{name}");
        }
    }
}

backend_test! {
    fn empty_or_overlong_item_name_is_rejected(db) {
        let (pool, cache) = setup(&db);
        assert!(cache.set_cache_item(APP, "", &json!({}), "json", None, None).is_err());
        let long = "n".repeat(256);
        assert!(cache.set_cache_item(APP, &long, &json!({}), "json", None, None).is_err());
        assert_eq!(count_items(&pool), 0);
        let longest = "n".repeat(255);
        cache.set_cache_item(APP, &longest, &json!({}), "json", None, None).unwrap();
        assert_eq!(count_items(&pool), 1);
    }
}

backend_test! {
    fn no_project_means_the_site_wide_item_only_for_get_and_delete(db) {
        let (pool, cache) = setup(&db);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        cache.set_cache_item(APP, "item", &json!("project"), "json", Some(&project), None).unwrap();
        assert_eq!(cache.get_cache_item(APP, "item", None).unwrap(), None);
        assert_eq!(cache.get_update_time(APP, "item", None).unwrap(), None);
        assert!(!cache.delete_cache_item(APP, "item", None).unwrap(), "no site-wide item to delete");
        assert!(cache.get_cache_item(APP, "item", Some(&project)).unwrap().is_some());

        cache.set_cache_item(APP, "item", &json!("site"), "json", None, None).unwrap();
        let site = cache.get_cache_item(APP, "item", None).unwrap().unwrap();
        assert_eq!(site.project_id, None);
        assert_eq!(site.data.to_value(), json!("site"));
        assert!(cache.delete_cache_item(APP, "item", None).unwrap());
        assert_eq!(cache.get_cache_item(APP, "item", None).unwrap(), None);
        let kept = cache.get_cache_item(APP, "item", Some(&project)).unwrap().unwrap();
        assert_eq!(kept.data.to_value(), json!("project"));
    }
}

backend_test! {
    fn delete_cache_item_is_silent_when_missing(db) {
        let (_, cache) = setup(&db);
        assert!(!cache.delete_cache_item(APP, "missing", None).unwrap());
    }
}

/// A new data row (`cache_item_data`) holding `data`; returns its id.
fn fresh_data_row(conn: &mut sodarcache::db::DbConn, data: &JsonText) -> i64 {
    use sodarcache::db::schema::cache_item_data;
    let max: Option<i64> = cache_item_data::table
        .select(diesel::dsl::max(cache_item_data::id))
        .first(conn)
        .unwrap();
    let id = max.unwrap_or(0) + 1;
    diesel::insert_into(cache_item_data::table)
        .values((cache_item_data::id.eq(id), cache_item_data::data.eq(data)))
        .execute(conn)
        .unwrap();
    id
}

backend_test! {
    fn site_wide_items_are_unique(db) {
        let (pool, cache) = setup(&db);
        cache.set_cache_item(APP, "item", &json!(1), "json", None, None).unwrap();
        cache.set_cache_item(APP, "item", &json!(2), "json", None, None).unwrap();
        assert_eq!(count_items(&pool), 1);
        // The database itself refuses a second site-wide row with the same key.
        let data = JsonText::from_value(&json!(3));
        let conn = &mut *pool.get().unwrap();
        let data_id = fresh_data_row(conn, &data);
        let dup = diesel::insert_into(cache_items::table)
            .values((&NewCacheItem {
                uuid: DbUuid(uuid::Uuid::new_v4()),
                project_id: None,
                app_name: APP,
                name: "item",
                data: &data,
                size_bytes: 1,
                date_modified: sodarcache::db::now(),
                user_id: None,
                data_sha256: data.sha256_hex(),
                origin: None,
                job_id: None,
                preview: None,
            }, cache_items::data_id.eq(data_id)))
            .execute(&mut **conn);
        assert!(sodarcache::db::is_unique_violation(&dup.unwrap_err()));
    }
}

backend_test! {
    fn deleting_a_user_keeps_their_items_with_no_user(db) {
        let (pool, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let user = fx::user(&mut conn, "alice", false);
        let project = fx::project(&mut conn, "P", None, None);
        cache.set_cache_item(APP, "item", &json!(1), "json", Some(&project), Some(&user)).unwrap();
        assert_eq!(User::delete(&mut conn, user.id).unwrap(), 1);
        let item = cache.get_cache_item(APP, "item", Some(&project)).unwrap().unwrap();
        assert_eq!(item.user_id, None);
    }
}

backend_test! {
    fn deleting_a_project_deletes_its_items_only(db) {
        let (pool, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let gone = fx::project(&mut conn, "Gone", None, None);
        let kept = fx::project(&mut conn, "Kept", None, None);
        cache.set_cache_item(APP, "item", &json!(1), "json", Some(&gone), None).unwrap();
        cache.set_cache_item(APP, "item", &json!(2), "json", Some(&kept), None).unwrap();
        cache.set_cache_item(APP, "item", &json!(3), "json", None, None).unwrap();
        diesel::delete(projects::table.find(gone.id)).execute(&mut **conn).unwrap();
        assert_eq!(count_items(&pool), 2);
        assert!(cache.get_cache_item(APP, "item", Some(&kept)).unwrap().is_some());
        assert!(cache.get_cache_item(APP, "item", None).unwrap().is_some());
    }
}

backend_test! {
    fn get_update_time_is_epoch_seconds_of_date_modified_or_none(db) {
        let (pool, cache) = setup(&db);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        assert_eq!(cache.get_update_time(APP, "item", Some(&project)).unwrap(), None);
        let item = cache.set_cache_item(APP, "item", &json!({}), "json", Some(&project), None).unwrap();
        let t = cache.get_update_time(APP, "item", Some(&project)).unwrap().unwrap();
        assert!((t - epoch(item.date_modified)).abs() < 1e-6, "{t} vs {}", item.date_modified);
        let now = chrono::Utc::now().timestamp() as f64;
        assert!((now - t).abs() < 60.0, "seconds since the epoch, not millis: {t}");
    }
}

backend_test! {
    fn get_project_cache_returns_only_that_projects_items(db) {
        let (pool, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let mine = fx::project(&mut conn, "Mine", None, None);
        let other = fx::project(&mut conn, "Other", None, None);
        cache.set_cache_item(APP, "b", &json!(1), "json", Some(&mine), None).unwrap();
        cache.set_cache_item("sodarcache", "a", &json!(2), "json", Some(&mine), None).unwrap();
        cache.set_cache_item(APP, "c", &json!(3), "json", Some(&other), None).unwrap();
        cache.set_cache_item(APP, "d", &json!(4), "json", None, None).unwrap();
        let items = cache.get_project_cache(&mine, "json").unwrap();
        let names: Vec<(&str, &str)> = items.iter().map(|i| (i.app_name.as_str(), i.name.as_str())).collect();
        assert_eq!(names, [("sodarcache", "a"), (APP, "b")]);
        assert!(items.iter().all(|i| i.project_id == Some(mine.id)));
        let err = cache.get_project_cache(&mine, "yaml").unwrap_err();
        assert_eq!(err.to_string(), "Unknown data type \"yaml\" for a cache item (allowed types: json)");
    }
}

/// Two projects with an item of each app, plus a site-wide item of each app.
fn populate(cache: &SodarCache, a: &Project, b: &Project) {
    for project in [Some(a), Some(b), None] {
        for app in [APP, "sodarcache"] {
            cache
                .set_cache_item(app, "item", &json!(1), "json", project, None)
                .unwrap();
        }
    }
}

backend_test! {
    fn delete_cache_without_arguments_deletes_everything_site_wide_included(db) {
        let (pool, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let (a, b) = (fx::project(&mut conn, "A", None, None), fx::project(&mut conn, "B", None, None));
        populate(&cache, &a, &b);
        assert_eq!(cache.delete_cache(None, None).unwrap(), 6);
        assert_eq!(count_items(&pool), 0);
        assert_eq!(cache.delete_cache(None, None).unwrap(), 0, "0 when nothing matched");
    }
}

backend_test! {
    fn delete_cache_by_app_deletes_that_apps_items_everywhere(db) {
        let (pool, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let (a, b) = (fx::project(&mut conn, "A", None, None), fx::project(&mut conn, "B", None, None));
        populate(&cache, &a, &b);
        assert_eq!(cache.delete_cache(Some(APP), None).unwrap(), 3);
        assert_eq!(count_items(&pool), 3);
        assert!(cache.get_cache_item(APP, "item", None).unwrap().is_none());
        assert!(cache.get_cache_item("sodarcache", "item", None).unwrap().is_some());
    }
}

backend_test! {
    fn delete_cache_by_project_and_app_deletes_only_matches(db) {
        let (pool, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let (a, b) = (fx::project(&mut conn, "A", None, None), fx::project(&mut conn, "B", None, None));
        populate(&cache, &a, &b);
        assert_eq!(cache.delete_cache(None, Some(&a)).unwrap(), 2);
        assert!(cache.get_project_cache(&a, "json").unwrap().is_empty());
        assert_eq!(cache.get_project_cache(&b, "json").unwrap().len(), 2);
        assert_eq!(cache.delete_cache(Some(APP), Some(&b)).unwrap(), 1);
        assert_eq!(count_items(&pool), 3);
        assert_eq!(cache.delete_cache(Some(APP), Some(&b)).unwrap(), 0);
    }
}

backend_test! {
    fn delete_cache_with_unknown_app_is_an_error(db) {
        let (pool, cache) = setup(&db);
        cache.set_cache_item(APP, "item", &json!(1), "json", None, None).unwrap();
        let err = cache.delete_cache(Some("nope"), None).unwrap_err();
        assert!(err.to_string().starts_with("Unknown app name \"nope\""), "{err}");
        assert_eq!(count_items(&pool), 1);
    }
}

backend_test! {
    fn get_backend_api_is_none_when_sodar_cache_is_not_enabled(db) {
        let pool = db.pool();
        let enabled = PluginRegistry::builder().build(pool.clone(), &db.settings());
        assert!(enabled.get_backend_api::<SodarCache>("sodar_cache").is_some());
        assert!(enabled.get_backend_api::<SodarCache>("other").is_none());
        let settings = Settings { enabled_backends: vec![], ..db.settings() };
        let disabled = PluginRegistry::builder().build(pool, &settings);
        assert!(disabled.get_backend_api::<SodarCache>("sodar_cache").is_none());
        assert!(disabled.cache().is_none());
    }
}

backend_test! {
    fn concurrent_upserts_of_one_new_key_never_fail_and_leave_one_row(db) {
        let (pool, cache) = setup(&db);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let barrier = Arc::new(Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let (cache, barrier, project) = (cache.clone(), barrier.clone(), project.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    cache.set_cache_item(APP, "hot", &json!({"writer": i}), "json", Some(&project), None)
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().expect("no writer fails");
        }
        assert_eq!(count_items(&pool), 1);
        let item = cache.get_cache_item(APP, "hot", Some(&project)).unwrap().unwrap();
        assert!(item.data.to_value()["writer"].is_number());
    }
}

fn write<'a>(
    name: &'a str,
    data: serde_json::Value,
    project: Option<&'a Project>,
) -> CacheWrite<'a> {
    CacheWrite {
        app_name: APP,
        name,
        data: JsonText::from_value(&data),
        project,
        user: None,
    }
}

backend_test! {
    fn set_cache_items_writes_many_in_one_call(db) {
        let (pool, cache) = setup(&db);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        // More than one statement's worth of rows.
        let names: Vec<String> = (0..1203).map(|i| format!("item-{i:04}")).collect();
        let writes: Vec<CacheWrite<'_>> = names.iter().map(|n| write(n, json!({"n": n}), Some(&project))).collect();
        assert_eq!(cache.set_cache_items(&writes).unwrap(), 1203);
        assert_eq!(count_items(&pool), 1203);
        let last = cache.get_cache_item(APP, "item-1202", Some(&project)).unwrap().unwrap();
        assert_eq!(last.data.to_value(), json!({"n": "item-1202"}));
        // Writing them again updates in place.
        assert_eq!(cache.set_cache_items(&writes).unwrap(), 1203);
        assert_eq!(count_items(&pool), 1203);
    }
}

backend_test! {
    fn set_cache_items_with_an_invalid_item_writes_nothing(db) {
        let (pool, cache) = setup(&db);
        let mut bad_app = write("b", json!(2), None);
        bad_app.app_name = "nope";
        let err = cache.set_cache_items(&[write("a", json!(1), None), bad_app, write("c", json!(3), None)]).unwrap_err();
        assert!(err.to_string().starts_with("Unknown app name \"nope\""), "{err}");
        assert!(cache.set_cache_items(&[write("a", json!(1), None), write("b", serde_json::Value::Null, None)]).is_err());
        assert!(cache.set_cache_items(&[write("a", json!(1), None), write("", json!(1), None)]).is_err());
        assert_eq!(count_items(&pool), 0);
    }
}

backend_test! {
    fn set_cache_items_with_a_duplicate_key_keeps_the_last_data(db) {
        let (pool, cache) = setup(&db);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let writes = [
            write("dup", json!("first"), Some(&project)),
            write("other", json!("x"), Some(&project)),
            write("dup", json!("last"), Some(&project)),
            write("dup", json!("site"), None),
        ];
        assert_eq!(cache.set_cache_items(&writes).unwrap(), 3);
        assert_eq!(count_items(&pool), 3);
        let dup = cache.get_cache_item(APP, "dup", Some(&project)).unwrap().unwrap();
        assert_eq!(dup.data.to_value(), json!("last"));
        let site = cache.get_cache_item(APP, "dup", None).unwrap().unwrap();
        assert_eq!(site.data.to_value(), json!("site"));
    }
}

backend_test! {
    fn timestamps_round_trip_to_the_microsecond(db) {
        let (pool, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let written = cache.set_cache_item(APP, "now", &json!({}), "json", None, None).unwrap();
        assert_eq!(written.date_modified.and_utc().timestamp_subsec_nanos() % 1000, 0);
        let read = cache.get_cache_item(APP, "now", None).unwrap().unwrap();
        assert_eq!(read.date_modified, written.date_modified);

        let at = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap().and_hms_micro_opt(23, 59, 58, 123_457).unwrap();
        let data = JsonText::from_value(&json!([1]));
        CacheItem::upsert(&mut conn, &NewCacheItem {
            uuid: DbUuid(uuid::Uuid::new_v4()),
            project_id: None,
            app_name: APP,
            name: "fixed",
            data: &data,
            size_bytes: data.len() as i64,
            date_modified: at,
            user_id: None,
            data_sha256: data.sha256_hex(),
            origin: None,
            job_id: None,
            preview: None,
        }).unwrap();
        let read = cache.get_cache_item(APP, "fixed", None).unwrap().unwrap();
        assert_eq!(read.date_modified, at);
        let t = cache.get_update_time(APP, "fixed", None).unwrap().unwrap();
        assert!((t - epoch(at)).abs() < 1e-6);
    }
}
