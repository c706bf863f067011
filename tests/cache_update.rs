//! `update_cache`: plugins run in name order, each isolated, with the example app.

mod common;

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use serde_json::json;
use sodarcache::cache::SodarCache;
use sodarcache::db::DbPool;
use sodarcache::db::models::Role;
use sodarcache::db::schema::cache_items;
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry, RegistryBuilder};
use sodarcache::settings::Settings;

use common::fixtures as fx;
use common::plugins::{Gate, TestPlugin};

fn setup(db: &common::TestDb) -> (DbPool, PluginRegistry, Arc<SodarCache>) {
    setup_with(
        db,
        PluginRegistry::builder().project_app(ExampleProjectApp),
        db.settings(),
    )
}

fn setup_with(
    db: &common::TestDb,
    plugins: RegistryBuilder,
    settings: Settings,
) -> (DbPool, PluginRegistry, Arc<SodarCache>) {
    let pool = db.pool();
    let registry = plugins.build(pool.clone(), &settings);
    let cache = registry.cache().expect("sodar_cache enabled by default");
    (pool, registry, cache)
}

fn count_items(pool: &DbPool) -> i64 {
    cache_items::table
        .count()
        .get_result(&mut **pool.get().unwrap())
        .unwrap()
}

backend_test! {
    fn project_apps_are_sorted_by_name(db) {
        let plugins = PluginRegistry::builder()
            .project_app(TestPlugin::noop("zeta"))
            .project_app(TestPlugin::noop("alpha"))
            .project_app(TestPlugin::noop("mid"));
        let (_, registry, cache) = setup_with(&db, plugins, db.settings());
        let names: Vec<&str> = registry.project_apps().iter().map(|p| p.name()).collect();
        assert_eq!(names, ["alpha", "mid", "zeta"]);
        let names: Vec<&str> = registry.runner().plugins().iter().map(|p| p.name()).collect();
        assert_eq!(names, ["alpha", "mid", "zeta"]);
        assert_eq!(cache.app_names(), registry.app_names());
        assert_eq!(registry.app_names(), ["alpha", "mid", "sodarcache", "zeta"]);
    }
}

backend_test! {
    fn update_cache_isolates_failing_and_panicking_plugins(db) {
        let plugins = PluginRegistry::builder()
            .project_app(TestPlugin::writes("c_writes", "written"))
            .project_app(TestPlugin::fails("a_fails", "source unreachable"))
            .project_app(TestPlugin::panics("b_panics"));
        let (pool, registry, cache) = setup_with(&db, plugins, db.settings());
        let mut conn = pool.get().unwrap();
        let project = fx::project(&mut conn, "P", None, None);
        let user = fx::user(&mut conn, "alice", false);
        let outcomes = registry.update_cache(None, Some(&project), Some(&user)).unwrap();
        let names: Vec<&str> = outcomes.iter().map(|o| o.plugin.as_str()).collect();
        assert_eq!(names, ["a_fails", "b_panics", "c_writes"]);
        let tail = format!(" (project {})", project.log_title());
        assert_eq!(outcomes[0].error.as_deref(), Some(format!("source unreachable{tail}").as_str()));
        assert_eq!(outcomes[1].error.as_deref(), Some(format!("panicked: plugin exploded{tail}").as_str()));
        assert_eq!(outcomes[2].error, None);
        assert!(outcomes[2].ok() && !outcomes[0].ok() && !outcomes[1].ok());
        assert_eq!([outcomes[0].items_written, outcomes[1].items_written, outcomes[2].items_written], [0, 0, 1]);
        let item = cache.get_cache_item("c_writes", "written", Some(&project)).unwrap().unwrap();
        assert_eq!(item.user_id, Some(user.id));
    }
}

backend_test! {
    fn update_cache_reports_a_plugin_past_the_timeout_while_others_finish(db) {
        // The gate opens only after the sync returned: the plugin can end only by timeout.
        let hang = Gate::new();
        let plugins = PluginRegistry::builder()
            .project_app(TestPlugin::noop("a_sleeps").gated(&hang))
            .project_app(TestPlugin::writes("b_writes", "written"));
        // Seconds of headroom for the writer on a loaded machine (the hanging one never ends).
        let settings = Settings { plugin_timeout: Duration::from_secs(5), ..db.settings() };
        let (pool, registry, cache) = setup_with(&db, plugins, settings);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let outcomes = registry.update_cache(None, Some(&project), None).unwrap();
        assert_eq!(outcomes.len(), 2);
        let error = outcomes[0].error.as_deref().unwrap();
        assert!(error.starts_with("timed out after 5 seconds"), "{error}");
        assert!(outcomes[1].ok());
        assert_eq!(outcomes[1].items_written, 1);
        assert!(cache.get_cache_item("b_writes", "written", Some(&project)).unwrap().is_some());
        hang.open();
    }
}

backend_test! {
    fn example_app_writes_project_summary_with_members_by_role(db) {
        let (pool, registry, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let category = fx::category(&mut conn, "Cat", None);
        let project = fx::project(&mut conn, "Proj", Some(&category), None);
        for (name, role) in [("alice", Role::Owner), ("carol", Role::Contributor), ("bob", Role::Contributor), ("dave", Role::Guest)] {
            let user = fx::user(&mut conn, name, false);
            fx::role(&mut conn, &project, &user, role);
        }
        let outcomes = registry.update_cache(None, Some(&project), None).unwrap();
        assert!(outcomes.iter().all(|o| o.ok()), "{outcomes:?}");
        let item = cache.get_cache_item("example_project_app", "project_summary", Some(&project)).unwrap().unwrap();
        let data = item.data.to_value();
        assert_eq!(data["title"], "Proj");
        assert_eq!(data["full_title"], "Cat / Proj");
        assert_eq!(data["member_count"], 4);
        assert_eq!(data["members"], json!({"owner": ["alice"], "contributor": ["bob", "carol"], "guest": ["dave"]}));
        // Categories get no summary, even when asked directly.
        registry.update_cache(None, Some(&category), None).unwrap();
        assert!(cache.get_project_cache(&category, "json").unwrap().is_empty());
    }
}

backend_test! {
    fn example_app_honours_the_name_and_project_limits(db) {
        let (pool, registry, cache) = setup(&db);
        let mut conn = pool.get().unwrap();
        let category = fx::category(&mut conn, "Cat", None);
        let one = fx::project(&mut conn, "One", Some(&category), None);
        let two = fx::project(&mut conn, "Two", Some(&category), None);
        registry.update_cache(Some("something_else"), Some(&one), None).unwrap();
        assert_eq!(count_items(&pool), 0, "another item name writes nothing");
        registry.update_cache(Some("project_summary"), Some(&one), None).unwrap();
        assert!(cache.get_cache_item("example_project_app", "project_summary", Some(&one)).unwrap().is_some());
        assert!(cache.get_cache_item("example_project_app", "project_summary", Some(&two)).unwrap().is_none());
        assert_eq!(count_items(&pool), 1);
        // The whole site: every PROJECT, no category, nothing site-wide.
        registry.update_cache(None, None, None).unwrap();
        assert!(cache.get_cache_item("example_project_app", "project_summary", Some(&two)).unwrap().is_some());
        assert!(cache.get_project_cache(&category, "json").unwrap().is_empty());
        assert!(cache.get_cache_item("example_project_app", "project_summary", None).unwrap().is_none());
        assert_eq!(count_items(&pool), 2);
    }
}
