//! The plugin API's contract (`sodarcache::plugin`), on both backends: the context is
//! bound to its plugin and scope, every write is counted, batches are one
//! transaction, large writes, the name filter, site vs project syncs, reads by
//! prefix across projects, and sub-apps valid everywhere (REST, CLI, admin) with
//! deletes that include them.

mod common;
#[path = "common/web.rs"]
mod web;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;
use serde_json::{Value, json};
use sodarcache::cli::{Cli, execute};
use sodarcache::db::models::Project;
use sodarcache::plugin::prelude::*;
use sodarcache::plugins::RegistryBuilder;

use common::plugins::FnPlugin;
use common::{TestApp, TestDb, fixtures as fx};

const SUBS: &[&str] = &["sheets.assay", "sheets.study"];

fn registry_with(db: &TestDb, plugin: FnPlugin) -> (sodarcache::db::DbPool, PluginRegistry) {
    let pool = db.pool();
    let registry = PluginRegistry::builder()
        .project_app(plugin)
        .build(pool.clone(), &db.settings());
    (pool, registry)
}

fn item(
    registry: &PluginRegistry,
    app: &str,
    name: &str,
    project: Option<&Project>,
) -> Option<Value> {
    registry
        .cache_unchecked()
        .get_cache_item(app, name, project)
        .unwrap()
        .map(|i| i.data.to_value())
}

backend_test! {
    fn a_write_names_only_the_item_and_goes_to_the_jobs_project_and_user(db) {
        let plugin = FnPlugin::new("sheets", SUBS).on_project(|ctx, p| {
            ctx.set(&format!("irods/rows/{}", p.uuid), &json!({"rows": 2}))?;
            ctx.sub_app("sheets.assay")?.set("irods/rows/a", &json!([1, null]))?;
            Ok(())
        });
        let (pool, registry) = registry_with(&db, plugin);
        let (project, user) = {
            let conn = &mut *pool.get().unwrap();
            (fx::project(conn, "P", None, None), fx::user(conn, "alice", false))
        };
        let outcomes = registry.update_cache(None, Some(&project), Some(&user)).unwrap();
        assert_eq!(outcomes.len(), 1);
        assert!(outcomes[0].ok(), "{outcomes:?}");
        assert_eq!(outcomes[0].items_written, 2, "every write is counted");
        let name = format!("irods/rows/{}", project.uuid);
        assert_eq!(item(&registry, "sheets", &name, Some(&project)), Some(json!({"rows": 2})));
        assert_eq!(item(&registry, "sheets.assay", "irods/rows/a", Some(&project)), Some(json!([1, null])));
        let row = registry.cache_unchecked().get_cache_item("sheets", &name, Some(&project)).unwrap().unwrap();
        assert_eq!(row.user_id, Some(user.id), "the job's user is implied");
        assert_eq!(item(&registry, "sheets", &name, None), None, "nothing site-wide");
    }
}

backend_test! {
    fn a_write_under_another_plugins_app_is_an_error_and_writes_nothing(db) {
        let plugin = FnPlugin::new("sheets", SUBS).on_project(|ctx, _| {
            let err = ctx.sub_app("other_plugin").unwrap_err();
            assert!(matches!(err, PluginError::NotAllowed(_)), "{err:?}");
            ctx.sub_app("sodarcache")?.set("x", &json!(1))?;
            Ok(())
        });
        let pool = db.pool();
        let registry = PluginRegistry::builder()
            .project_app(plugin)
            .project_app(FnPlugin::new("other_plugin", &[]))
            .build(pool.clone(), &db.settings());
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let outcomes = registry.update_cache(None, Some(&project), None).unwrap();
        let error = outcomes[1].error.as_deref().unwrap_or_default();
        assert!(error.contains("did not declare the app \"sodarcache\""), "{outcomes:?}");
        assert_eq!(outcomes[1].items_written, 0);
        assert_eq!(item(&registry, "sodarcache", "x", Some(&project)), None);
    }
}

backend_test! {
    fn a_project_jobs_context_cannot_write_elsewhere(db) {
        let plugin = FnPlugin::new("sheets", &[]).on_project(|ctx, p| {
            assert!(matches!(ctx.site(), Err(PluginError::NotAllowed(_))));
            let others: Vec<ProjectView> = ctx.projects()?.into_iter().filter(|o| o.uuid != p.uuid).collect();
            assert_eq!(others.len(), 1);
            assert!(matches!(ctx.for_project(&others[0]), Err(PluginError::NotAllowed(_))));
            ctx.for_project(p)?.set("mine", &json!(true))?;
            Ok(())
        });
        let (pool, registry) = registry_with(&db, plugin);
        let (a, b) = {
            let conn = &mut *pool.get().unwrap();
            (fx::project(conn, "A", None, None), fx::project(conn, "B", None, None))
        };
        let outcomes = registry.update_cache(None, Some(&a), None).unwrap();
        assert!(outcomes[0].ok(), "{outcomes:?}");
        assert_eq!(item(&registry, "sheets", "mine", Some(&a)), Some(json!(true)));
        assert_eq!(item(&registry, "sheets", "mine", Some(&b)), None);
    }
}

backend_test! {
    fn a_batch_is_one_transaction_and_counts_its_rows(db) {
        let plugin = FnPlugin::new("sheets", SUBS).on_project(|ctx, _| {
            let assay = ctx.sub_app("sheets.assay")?;
            let mut batch = ctx.batch();
            batch.set("a", &json!(1))?.set("b", &json!(2))?.set_in(&assay, "c", &json!(3))?;
            batch.set_raw("d", serde_json::value::RawValue::from_string("[4]".into()).unwrap());
            assert_eq!(batch.len(), 4);
            assert_eq!(batch.commit()?, 4);
            // One bad item: nothing of the batch is written.
            let mut bad = ctx.batch();
            bad.set("e", &json!(5))?.set("f", &Value::Null)?;
            assert!(matches!(bad.commit(), Err(PluginError::Invalid(_))));
            Ok(())
        });
        let (pool, registry) = registry_with(&db, plugin);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let outcomes = registry.update_cache(None, Some(&project), None).unwrap();
        assert!(outcomes[0].ok(), "{outcomes:?}");
        assert_eq!(outcomes[0].items_written, 4);
        assert_eq!(item(&registry, "sheets.assay", "c", Some(&project)), Some(json!(3)));
        assert_eq!(item(&registry, "sheets", "d", Some(&project)), Some(json!([4])));
        assert_eq!(item(&registry, "sheets", "e", Some(&project)), None, "all or none");
    }
}

backend_test! {
    fn large_items_from_a_raw_value_or_a_writer_are_stored_as_written(db) {
        let plugin = FnPlugin::new("sheets", &[]).on_project(|ctx, _| {
            let rows: Vec<Value> = (0..20_000).map(|i| json!({"row": i, "sample": format!("S{i:05}")})).collect();
            ctx.set_with("sheet/tables/study/big", |w| serde_json::to_writer(w, &rows))?;
            let raw = serde_json::value::RawValue::from_string(r#"{"kept":  "as sent"}"#.into()).unwrap();
            ctx.set_raw("raw", raw)?;
            let err = ctx.set_with("broken", |w| {
                w.extend_from_slice(b"{\"a\": 1} trailing");
                Ok(())
            });
            assert!(matches!(err, Err(PluginError::Invalid(_))), "{err:?}");
            Ok(())
        });
        let (pool, registry) = registry_with(&db, plugin);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        let outcomes = registry.update_cache(None, Some(&project), None).unwrap();
        assert!(outcomes[0].ok(), "{outcomes:?}");
        assert_eq!(outcomes[0].items_written, 2);
        let cache = registry.cache_unchecked();
        let big = cache.get_cache_item("sheets", "sheet/tables/study/big", Some(&project)).unwrap().unwrap();
        assert!(big.size_bytes > 500_000, "{}", big.size_bytes);
        assert_eq!(big.data.to_value()[19_999]["sample"], "S19999");
        let raw = cache.get_cache_item("sheets", "raw", Some(&project)).unwrap().unwrap();
        assert_eq!(raw.data.as_str(), r#"{"kept":  "as sent"}"#, "the text as written");
        assert!(cache.get_cache_item("sheets", "broken", Some(&project)).unwrap().is_none());
    }
}

backend_test! {
    fn the_name_filter_tells_which_items_the_job_wants(db) {
        let plugin = FnPlugin::new("sheets", &[]).on_project(|ctx, _| {
            for name in ["a", "b"] {
                if ctx.wants(name) {
                    ctx.set(name, &json!(name))?;
                }
            }
            Ok(())
        });
        let (pool, registry) = registry_with(&db, plugin);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        registry.update_cache(Some("b"), Some(&project), None).unwrap();
        assert_eq!(item(&registry, "sheets", "a", Some(&project)), None);
        assert_eq!(item(&registry, "sheets", "b", Some(&project)), Some(json!("b")));
        registry.update_cache(None, Some(&project), None).unwrap();
        assert_eq!(item(&registry, "sheets", "a", Some(&project)), Some(json!("a")));
    }
}

backend_test! {
    fn a_site_sync_calls_sync_site_once_and_never_sync_project_itself(db) {
        // Counters per test run (the two backends run at once).
        let site_calls = Arc::new(AtomicUsize::new(0));
        let project_calls = Arc::new(AtomicUsize::new(0));
        let (site, project) = (site_calls.clone(), project_calls.clone());
        // Like upstream's update_cache(project=None): one session for every project.
        let overriding = FnPlugin::new("a_session", &[])
            .on_project(move |_, _| {
                project.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .on_site(move |ctx| {
                site.fetch_add(1, Ordering::SeqCst);
                for p in ctx.projects()? {
                    ctx.for_project(&p)?.set("stats", &json!({"title": p.title}))?;
                }
                ctx.set("site_stats", &json!({"projects": ctx.projects()?.len()}))?;
                Ok(())
            });
        // The default: sync_project for every project, once each.
        let per_project = Arc::new(AtomicUsize::new(0));
        let calls = per_project.clone();
        let default = FnPlugin::new("b_default", &[]).on_project(move |ctx, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            ctx.set("x", &json!(1))?;
            Ok(())
        });
        let pool = db.pool();
        let registry = PluginRegistry::builder()
            .project_app(overriding)
            .project_app(default)
            .build(pool.clone(), &db.settings());
        let (a, b) = {
            let conn = &mut *pool.get().unwrap();
            let cat = fx::category(conn, "Cat", None);
            (fx::project(conn, "A", Some(&cat), None), fx::project(conn, "B", None, None))
        };
        let outcomes = registry.update_cache(None, None, None).unwrap();
        assert!(outcomes.iter().all(|o| o.ok()), "{outcomes:?}");
        assert_eq!(site_calls.load(Ordering::SeqCst), 1);
        assert_eq!(project_calls.load(Ordering::SeqCst), 0, "the runner never adds its own loop");
        assert_eq!(per_project.load(Ordering::SeqCst), 2, "categories are not synced");
        assert_eq!(outcomes[0].items_written, 3);
        assert_eq!(item(&registry, "a_session", "stats", Some(&a)), Some(json!({"title": "A"})));
        assert_eq!(item(&registry, "a_session", "site_stats", None), Some(json!({"projects": 2})));
        assert_eq!(item(&registry, "b_default", "x", Some(&b)), Some(json!(1)));
    }
}

backend_test! {
    fn items_are_read_by_app_and_prefix_across_projects_one_page_at_a_time(db) {
        let (pool, registry) = registry_with(&db, FnPlugin::new("sheets", SUBS));
        let cache = registry.cache_unchecked();
        let projects: Vec<Project> = {
            let conn = &mut *pool.get().unwrap();
            (0..3).map(|i| fx::project(conn, &format!("P{i}"), None, None)).collect()
        };
        for p in &projects {
            let name = format!("irods/stats/project/{}", p.uuid);
            cache.set_cache_item("sheets", &name, &json!({"files": 1}), "json", Some(p), None).unwrap();
            cache.set_cache_item("sheets", "irods/rows/x", &json!(0), "json", Some(p), None).unwrap();
        }
        cache.set_cache_item("sheets", "IRODS/stats/project/upper", &json!(0), "json", None, None).unwrap();
        cache.set_cache_item("sheets.assay", "irods/stats/project/sub", &json!(0), "json", None, None).unwrap();
        let mut filter = ItemFilter::new("sheets", "irods/stats/").limit(2);
        let mut seen = Vec::new();
        loop {
            let page = registry.items(&filter).unwrap();
            assert_eq!(page.total, 3, "the prefix is case-sensitive and per app");
            assert!(page.items.len() <= 2);
            for i in &page.items {
                assert_eq!(i.data::<Value>().unwrap(), json!({"files": 1}));
                assert_eq!(i.name, format!("irods/stats/project/{}", i.project.unwrap()));
                seen.push(i.project.unwrap());
            }
            match page.next {
                Some(next) => filter = next,
                None => break,
            }
        }
        let mut expected: Vec<uuid::Uuid> = projects.iter().map(|p| p.uuid.0).collect();
        expected.sort();
        seen.sort();
        assert_eq!(seen, expected, "every project's item, once");
        assert_eq!(registry.items(&ItemFilter::new("sheets", "")).unwrap().total, 7);
        assert!(matches!(registry.items(&ItemFilter::new("sheets", "").limit(0)), Err(PluginError::Invalid(_))));
    }
}

fn sheets() -> RegistryBuilder {
    PluginRegistry::builder()
        .project_app(FnPlugin::new("sheets", SUBS).on_project(|ctx, _| {
            ctx.set("rows", &json!(1))?;
            ctx.sub_app("sheets.assay")?.set("rows", &json!(2))?;
            ctx.sub_app("sheets.study")?.set("rows", &json!(3))?;
            Ok(())
        }))
        .project_app(FnPlugin::new("other", &[]))
}

backend_test! {
    fn sub_app_names_are_valid_and_deleting_the_app_deletes_them_too(db) {
        let pool = db.pool();
        let registry = sheets().build(pool.clone(), &db.settings());
        assert_eq!(registry.app_names(), ["other", "sheets", "sheets.assay", "sheets.study", "sodarcache"]);
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        registry.update_cache(None, Some(&project), None).unwrap();
        let cache = registry.cache().unwrap();
        cache.set_cache_item("other", "rows", &json!(0), "json", Some(&project), None).unwrap();
        // The backend API: the app and its sub-apps.
        assert_eq!(cache.delete_cache(Some("sheets"), Some(&project)).unwrap(), 3);
        assert_eq!(item(&registry, "other", "rows", Some(&project)), Some(json!(0)));
        // A sub-app alone.
        registry.update_cache(None, Some(&project), None).unwrap();
        assert_eq!(cache.delete_cache(Some("sheets.study"), Some(&project)).unwrap(), 1);
        assert_eq!(item(&registry, "sheets.assay", "rows", Some(&project)), Some(json!(2)));
    }
}

backend_test! {
    fn deletecache_app_includes_the_sub_apps_and_says_so(db) {
        let pool = db.pool();
        let registry = sheets().build(pool.clone(), &db.settings());
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        registry.update_cache(None, Some(&project), None).unwrap();
        let deletecache = |app: &str| {
            let cli = Cli::try_parse_from(["sodarcache", "--database-url", db.url.as_str(), "deletecache", "--app", app]).unwrap();
            execute(cli, sheets())
        };
        assert_eq!(deletecache("sheets.assay").unwrap(), std::process::ExitCode::SUCCESS);
        assert_eq!(item(&registry, "sheets.assay", "rows", Some(&project)), None);
        assert_eq!(item(&registry, "sheets", "rows", Some(&project)), Some(json!(1)));
        assert_eq!(deletecache("sheets").unwrap(), std::process::ExitCode::SUCCESS);
        assert_eq!(item(&registry, "sheets.study", "rows", Some(&project)), None);
        assert_eq!(item(&registry, "sheets", "rows", Some(&project)), None);
        let events = sodarcache::db::models::Event::list(&mut pool.get().unwrap(), None, 10).unwrap();
        assert_eq!(
            events[0].description,
            "Deleted 2 cached data items of app \"sheets\" and its sub-apps \"sheets.assay\", \"sheets.study\" from all projects"
        );
        assert!(deletecache("sheets.nope").is_err(), "an unknown sub-app is an error");
    }
}

backend_test! {
    fn rest_set_and_retrieve_accept_a_sub_app_and_the_admin_delete_includes_it(db) {
        let app = TestApp::spawn(&db, sheets(), |_| {});
        let (project, token) = {
            let conn = &mut *app.conn();
            let root = fx::user(conn, "root", true);
            let token = sodarcache::auth::token::create(conn, &root, None).unwrap();
            (fx::project(conn, "P", None, None), token)
        };
        web::run(async {
            let http = reqwest::Client::new();
            let url = |what: &str, app_name: &str| app.url(&format!("/cache/api/{what}/{}/{app_name}/rows", project.uuid));
            for app_name in ["sheets", "sheets.assay"] {
                let resp = http.post(url("set", app_name)).header("Authorization", format!("token {token}"))
                    .json(&json!({"data": {"from": app_name}})).send().await.unwrap();
                assert_eq!(resp.status(), 200, "set {app_name}");
                let resp = http.get(url("retrieve", app_name)).header("Authorization", format!("token {token}")).send().await.unwrap();
                assert_eq!(resp.status(), 200, "retrieve {app_name}");
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["data"], json!({"from": app_name}));
            }
            let resp = http.post(url("set", "sheets.nope")).header("Authorization", format!("token {token}"))
                .json(&json!({"data": 1})).send().await.unwrap();
            assert_eq!(resp.status(), 400, "not a declared sub-app");

            let c = web::logged_in(&app, "root").await;
            let path = format!("/cache/project/{}/delete", project.uuid);
            let resp = web::post_csrf(&c, &app, &path, &[("app", "sheets")]).await;
            assert_eq!(resp.status(), 303);
            let html = web::page(&c, &app, &format!("/cache/project/{}", project.uuid)).await;
            assert!(
                html.contains("Deleted 2 cached items of app &#34;sheets&#34; and its sub-apps &#34;sheets.assay&#34;, &#34;sheets.study&#34;."),
                "{html}"
            );
        });
        assert_eq!(item(&app.registry, "sheets.assay", "rows", Some(&project)), None);
    }
}
