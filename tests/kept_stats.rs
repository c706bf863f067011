//! The kept aggregates (per scope and app, per scope, totals; issues 8 and 11) equal a
//! recount of the items after every kind of write: single set (new and replace, larger
//! and smaller), bulk set, delete of one item, of one app's items, of a project's, of a
//! project itself, a plugin sync, a date moved back by SQL, and history pruning; in a
//! random sequence on both backends.

mod common;

use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sodarcache::cache::CacheWrite;
use sodarcache::cache::jobs::{request_sync, run_job};
use sodarcache::db::models::kept_stats::{kept, recount};
use sodarcache::db::models::{ItemVersion, JobStatus, Origin, Project, SyncJob};
use sodarcache::db::schema::{cache_items, projects};
use sodarcache::db::{DbConn, JsonText};
use sodarcache::plugins::PluginRegistry;

use common::fixtures as fx;
use common::plugins::TestPlugin;

const APPS: [&str; 2] = ["writer", "other"];

fn assert_kept(conn: &mut DbConn, step: &str) {
    let recounted = recount(conn).unwrap();
    let kept = kept(conn).unwrap();
    assert_eq!(kept, recounted, "after {step}");
}

fn data(rng: &mut StdRng) -> JsonText {
    let len = rng.random_range(0..300);
    JsonText::from_value(&json!({ "pad": "x".repeat(len) }))
}

backend_test! {
    fn kept_aggregates_equal_a_recount_after_every_kind_of_write(db) {
        let pool = db.pool();
        let registry = PluginRegistry::builder()
            .project_app(TestPlugin::writes("writer", "synced"))
            .project_app(TestPlugin::writes("other", "also"))
            .build(pool.clone(), &db.settings());
        let cache = registry.cache_unchecked();
        let conn = &mut **pool.get().unwrap();
        let root = fx::user(conn, "root", true);
        let top = fx::category(conn, "Top", None);
        let mut projects: Vec<Project> = (0..4)
            .map(|i| fx::project(conn, &format!("P{i}"), Some(&top), None))
            .collect();
        assert_kept(conn, "creating projects");
        let mut rng = StdRng::seed_from_u64(8_11);
        let names = ["a", "b", "c", "d", "e", "f"];
        let mut kinds = std::collections::BTreeSet::new();
        for step in 0..160 {
            let project = (rng.random_range(0..5) > 0 && !projects.is_empty())
                .then(|| projects[rng.random_range(0..projects.len())].clone());
            let app = APPS[rng.random_range(0..APPS.len())];
            let name = names[rng.random_range(0..names.len())];
            let kind = rng.random_range(0..100);
            let what = match kind {
                0..40 => {
                    let d = data(&mut rng);
                    cache.set_cache_item_json(app, name, &d, project.as_ref(), Some(&root)).unwrap();
                    "set"
                }
                40..55 => {
                    let datas: Vec<JsonText> = (0..names.len()).map(|_| data(&mut rng)).collect();
                    let writes: Vec<CacheWrite<'_>> = names
                        .iter()
                        .zip(&datas)
                        .filter(|_| rng.random_bool(0.6))
                        .map(|(n, d)| CacheWrite {
                            app_name: app,
                            name: n,
                            data: d.clone(),
                            project: project.as_ref(),
                            user: None,
                        })
                        .collect();
                    cache.set_cache_items(&writes).unwrap();
                    "bulk set"
                }
                55..70 => {
                    cache.delete_cache_item(app, name, project.as_ref()).unwrap();
                    "delete one"
                }
                70..76 => {
                    cache.delete_cache(Some(app), project.as_ref()).unwrap();
                    "delete one app's items"
                }
                76..80 => {
                    cache.delete_cache(None, project.as_ref()).unwrap();
                    "delete a scope's items"
                }
                80..83 if !projects.is_empty() => {
                    let gone = projects.remove(rng.random_range(0..projects.len()));
                    diesel::delete(projects::table.find(gone.id)).execute(conn).unwrap();
                    "delete a project"
                }
                80..86 => {
                    projects.push(fx::project(conn, &format!("New {step}"), Some(&top), None));
                    "create a project"
                }
                86..92 => {
                    let (job, _) = request_sync(conn, project.as_ref(), None, Origin::Web, None).unwrap();
                    let claimed = SyncJob::claim_next(conn, "w").unwrap().unwrap();
                    assert_eq!(claimed.uuid, job.uuid);
                    let (finished, _) = run_job(registry.runner(), &claimed, None).unwrap();
                    assert_eq!(finished.status, JobStatus::Done);
                    "plugin sync"
                }
                92..96 => {
                    // Dates moved back (as the stale fixtures do): oldest and newest follow.
                    let back = sodarcache::db::now() - chrono::Duration::days(rng.random_range(1..400));
                    diesel::update(cache_items::table.filter(cache_items::name.eq(name)))
                        .set(cache_items::date_modified.eq(back))
                        .execute(conn)
                        .unwrap();
                    "date moved back"
                }
                _ => {
                    // Pruning history deletes versions, never items.
                    ItemVersion::set_keep(conn, rng.random_range(0..3)).unwrap();
                    let d = data(&mut rng);
                    cache.set_cache_item_json(app, name, &d, project.as_ref(), None).unwrap();
                    "history pruning"
                }
            };
            assert_kept(conn, &format!("step {step}: {what} ({app}, {name}, {project:?})"));
            kinds.insert(what);
        }
        assert_eq!(kinds.len(), 10, "every kind of write ran: {kinds:?}");
        let totals = kept(conn).unwrap().totals;
        assert_eq!(totals.projects, projects.len() as i64);
        assert!(totals.items > 0, "the sequence left items: {totals:?}");
    }
}
