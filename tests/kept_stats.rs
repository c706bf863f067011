//! The kept aggregates (per scope and app, per scope, totals; issues 8 and 11) equal a
//! recount of the items after every kind of write: single set (new and replace, larger
//! and smaller), set of unchanged data (the touch: only the time and maybe the writer
//! move), bulk set, delete of one item, the bulk deletes (one app's items of a
//! project and everywhere, a project's items, the whole cache; with and without kept
//! versions), delete of a project itself, a plugin sync, a date moved back by SQL, and
//! history pruning; in a random sequence on both backends. And the kept last sync of each project (migration
//! 992001) equals the rule worked out from every job, after every way a job ends.

mod common;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sodarcache::cache::CacheWrite;
use sodarcache::cache::jobs::{request_sync, run_job};
use sodarcache::db::models::kept_stats::{kept, recount};
use sodarcache::db::models::{
    ItemVersion, JobScopeRequest, JobStatus, Origin, Project, ProjectType, SyncJob,
};
use sodarcache::db::schema::{cache_items, projects, sync_jobs};
use sodarcache::db::{DbConn, JsonText};
use sodarcache::db::{DbUuid, Scope, now};
use sodarcache::plugins::PluginRegistry;

use common::fixtures as fx;
use common::plugins::TestPlugin;

const APPS: [&str; 2] = ["writer", "other"];

fn assert_kept(conn: &mut DbConn, step: &str) {
    let recounted = recount(conn).unwrap();
    let kept = kept(conn).unwrap();
    assert_eq!(kept, recounted, "after {step}");
    assert_last_sync(conn, step);
}

/// `(job id, finished, status)` of a project's last sync.
type LastSync = Option<(i64, Option<NaiveDateTime>, String)>;

/// A project's id, creation time and kept last sync columns.
type KeptRow = (
    i64,
    NaiveDateTime,
    Option<i64>,
    Option<NaiveDateTime>,
    Option<String>,
);

/// The kept last sync of every project equals the rule: the newest (highest id)
/// finished job that covered it, its own or a site-wide job started at or after the
/// project was created. Returns each project's, by id.
fn assert_last_sync(conn: &mut DbConn, step: &str) -> Vec<(i64, LastSync)> {
    let jobs: Vec<SyncJob> = sync_jobs::table
        .select(SyncJob::as_select())
        .load(conn)
        .unwrap();
    let rows: Vec<KeptRow> = projects::table
        .filter(projects::project_type.eq(ProjectType::Project))
        .select((
            projects::id,
            projects::date_created,
            projects::last_sync_job,
            projects::last_sync_finished,
            projects::last_sync_status,
        ))
        .order(projects::id)
        .load(conn)
        .unwrap();
    rows.into_iter()
        .map(|(id, created, job, finished, status)| {
            let want = jobs
                .iter()
                .filter(|j| j.status.is_finished())
                .filter(|j| match j.project_id {
                    Some(p) => p == id,
                    None => j.started.is_some_and(|s| s >= created),
                })
                .max_by_key(|j| j.id)
                .map(|j| (j.id, j.finished, j.status.as_str().to_owned()));
            let got = job.map(|j| (j, finished, status.unwrap_or_default()));
            assert_eq!(got, want, "last sync of project {id} after {step}");
            (id, got)
        })
        .collect()
}

/// Whether any kept version exists (history is on and something changed).
fn has_versions(conn: &mut DbConn) -> bool {
    use sodarcache::db::schema::cache_item_versions;
    diesel::select(diesel::dsl::exists(
        cache_item_versions::table.select(cache_item_versions::id),
    ))
    .get_result(conn)
    .unwrap()
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
        let other = fx::user(conn, "other", false);
        let top = fx::category(conn, "Top", None);
        let mut projects: Vec<Project> = (0..4)
            .map(|i| fx::project(conn, &format!("P{i}"), Some(&top), None))
            .collect();
        assert_kept(conn, "creating projects");
        let mut rng = StdRng::seed_from_u64(8_11);
        let names = ["a", "b", "c", "d", "e", "f"];
        let mut kinds = std::collections::BTreeSet::new();
        // Bulk deletes run: (of a project, of one app, with kept versions).
        let mut bulk = std::collections::BTreeSet::new();
        for step in 0..160 {
            let project = (rng.random_range(0..5) > 0 && !projects.is_empty())
                .then(|| projects[rng.random_range(0..projects.len())].clone());
            let app = APPS[rng.random_range(0..APPS.len())];
            let name = names[rng.random_range(0..names.len())];
            let kind = rng.random_range(0..100);
            let what = match kind {
                // The same data again: the steady-state REST set (time and writer only).
                0..10 if cache.get_cache_item(app, name, project.as_ref()).unwrap().is_some() => {
                    let item = cache.get_cache_item(app, name, project.as_ref()).unwrap().unwrap();
                    let writer = [Some(&root), Some(&other), None][rng.random_range(0..3)];
                    let written =
                        cache.set_cache_item_json(app, name, &item.data, project.as_ref(), writer).unwrap();
                    assert_eq!(written.version, item.version, "unchanged data makes no version");
                    assert_eq!(written.user_id, writer.map_or(item.user_id, |u| Some(u.id)));
                    let stored = cache.get_cache_item(app, name, project.as_ref()).unwrap().unwrap();
                    assert_eq!(stored.user_id, written.user_id, "the writer as returned is stored");
                    assert!(stored.date_modified >= item.date_modified);
                    "set unchanged data"
                }
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
                // The bulk path (`CacheItem::delete_matching`): whole groups at once.
                70..76 => {
                    bulk.insert((project.is_some(), true, has_versions(conn)));
                    cache.delete_cache(Some(app), project.as_ref()).unwrap();
                    if project.is_some() { "delete one app's items of a project" } else { "delete one app's items everywhere" }
                }
                76..80 => {
                    bulk.insert((project.is_some(), false, has_versions(conn)));
                    cache.delete_cache(None, project.as_ref()).unwrap();
                    if project.is_some() { "delete a project's items" } else { "delete the whole cache" }
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
        assert_eq!(kinds.len(), 13, "every kind of write ran: {kinds:?}");
        assert!(
            bulk.iter().any(|(_, _, v)| *v) && bulk.iter().any(|(p, _, _)| !p),
            "bulk deletes ran with history and across projects: {bulk:?}"
        );
        let totals = kept(conn).unwrap().totals;
        assert_eq!(totals.projects, projects.len() as i64);
        assert!(totals.items > 0, "the sequence left items: {totals:?}");
    }
}

/// Queues a job for the project (or the site) and one item name (or every item).
fn queue(conn: &mut DbConn, project: Option<&Project>, item: Option<&str>) -> SyncJob {
    let scope = project.map_or(Scope::Site, Scope::from);
    let req = JobScopeRequest {
        scope,
        app_name: None,
        covering_apps: &[],
        item_name: item,
    };
    let (job, joined) = SyncJob::request(conn, &req, Origin::Cli, None).unwrap();
    assert!(!joined, "a new job");
    job
}

fn run(conn: &mut DbConn, job: &SyncJob) -> SyncJob {
    SyncJob::claim(conn, job.id, "w").unwrap().expect("claimed")
}

fn last_of(rows: &[(i64, LastSync)], p: &Project) -> LastSync {
    rows.iter()
        .find(|(id, _)| *id == p.id)
        .and_then(|(_, l)| l.clone())
}

backend_test! {
    fn the_kept_last_sync_follows_every_way_a_job_ends(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let top = fx::category(conn, "Top", None);
        let p: Vec<Project> = (0..3)
            .map(|i| fx::project(conn, &format!("P{i}"), Some(&top), None))
            .collect();
        let rows = assert_last_sync(conn, "creating projects");
        assert!(rows.iter().all(|(_, l)| l.is_none()), "never synced");

        // A site job that ends done covers every project that existed when it started.
        let site = { let q = queue(conn, None, None); run(conn, &q) };
        SyncJob::finish(conn, site.id, &[], None, false).unwrap();
        let rows = assert_last_sync(conn, "a site job done");
        for x in &p {
            assert_eq!(last_of(&rows, x).map(|l| (l.0, l.2)), Some((site.id, "done".to_owned())));
        }

        // A project's own job that fails.
        let own = { let q = queue(conn, Some(&p[1]), None); run(conn, &q) };
        SyncJob::finish(conn, own.id, &[], Some("broken"), false).unwrap();
        let rows = assert_last_sync(conn, "a project job failed");
        assert_eq!(last_of(&rows, &p[1]).map(|l| l.2), Some("failed".to_owned()));

        // A project created after the site job started: not covered.
        let late = fx::project(conn, "Late", Some(&top), None);
        let rows = assert_last_sync(conn, "a project created later");
        assert_eq!(last_of(&rows, &late), None);

        // A queued site job cancelled never started: it covers nothing. A queued
        // project job cancelled is that project's last sync.
        let queued = queue(conn, None, None);
        SyncJob::request_cancel(conn, queued.id, None).unwrap();
        let mine = queue(conn, Some(&p[0]), None);
        SyncJob::request_cancel(conn, mine.id, None).unwrap();
        let rows = assert_last_sync(conn, "queued jobs cancelled");
        assert_eq!(last_of(&rows, &p[0]).map(|l| (l.0, l.2)), Some((mine.id, "cancelled".to_owned())));
        assert_eq!(last_of(&rows, &late), None);

        // A site job running while a newer project job ends; then the stale sweep fails
        // the site job: the newer job stays its project's last sync.
        let sweeping = { let q = queue(conn, None, None); run(conn, &q) };
        // (A running site job covers every request, so the project's job is written
        // running by SQL, as another instance's worker would have claimed it.)
        let at = now();
        let insert = diesel::insert_into(sync_jobs::table)
            .values((
                sync_jobs::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
                sync_jobs::project_id.eq(Some(p[2].id)),
                sync_jobs::item_name.eq(Some("item")),
                sync_jobs::origin.eq("cli"),
                sync_jobs::status.eq("running"),
                sync_jobs::created.eq(at),
                sync_jobs::started.eq(Some(at)),
                sync_jobs::heartbeat.eq(Some(at + chrono::Duration::days(1))),
            ));
        let newer: i64 = sodarcache::on_backend!(&mut *conn, |c| insert
            .returning(sync_jobs::id)
            .get_result(c))
        .unwrap();
        assert!(newer > sweeping.id);
        SyncJob::finish(conn, newer, &[], None, false).unwrap();
        let swept = SyncJob::fail_stale(conn, now() + chrono::Duration::seconds(5)).unwrap();
        assert_eq!(swept, 1);
        let rows = assert_last_sync(conn, "a site job failed by the sweep");
        assert_eq!(last_of(&rows, &p[2]).map(|l| l.0), Some(newer));
        assert_eq!(last_of(&rows, &p[0]).map(|l| (l.0, l.2)), Some((sweeping.id, "failed".to_owned())));
        assert_eq!(last_of(&rows, &late).map(|l| l.0), Some(sweeping.id), "started after Late was created");

        // An older job that ends after a newer one of the same project does not win.
        let older = { let q = queue(conn, Some(&p[1]), Some("one item")); run(conn, &q) };
        let newest = { let q = queue(conn, Some(&p[1]), None); run(conn, &q) };
        SyncJob::finish(conn, newest.id, &[], None, false).unwrap();
        SyncJob::finish(conn, older.id, &[], Some("late"), false).unwrap();
        let rows = assert_last_sync(conn, "jobs ending out of order");
        assert_eq!(last_of(&rows, &p[1]).map(|l| l.0), Some(newest.id));

        // A finished job written by SQL, and a project's creation moved back by SQL.
        let at = now();
        diesel::insert_into(sync_jobs::table)
            .values((
                sync_jobs::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
                sync_jobs::origin.eq("cli"),
                sync_jobs::status.eq("done"),
                sync_jobs::created.eq(at),
                sync_jobs::started.eq(Some(at)),
                sync_jobs::finished.eq(Some(at)),
            ))
            .execute(conn)
            .unwrap();
        assert_last_sync(conn, "a finished site job inserted by SQL");
        let fresh = fx::project(conn, "Fresh", Some(&top), None);
        assert_eq!(last_of(&assert_last_sync(conn, "another project"), &fresh), None);
        diesel::update(projects::table.find(fresh.id))
            .set(projects::date_created.eq(at - chrono::Duration::days(3)))
            .execute(conn)
            .unwrap();
        let rows = assert_last_sync(conn, "a project's creation moved back");
        assert!(last_of(&rows, &fresh).is_some(), "now covered by the site jobs after it");
    }
}

backend_test! {
    fn the_kept_title_key_follows_a_backfilled_title(db) {
        let pool = db.pool();
        let registry = PluginRegistry::builder()
            .project_app(TestPlugin::writes("writer", "synced"))
            .build(pool.clone(), &db.settings());
        let cache = registry.cache_unchecked();
        let conn = &mut **pool.get().unwrap();
        let top = fx::category(conn, "Top", None);
        let p = fx::project(conn, "Project 7", Some(&top), None);
        // As an older server left it: no folded title, the plain lowercase title as its
        // sort key (migration 992001). Its first item copies that key into the kept row.
        diesel::update(projects::table.find(p.id))
            .set((
                projects::title_fold.eq(None::<String>),
                projects::title_sort.eq("top / project 7"),
            ))
            .execute(conn)
            .unwrap();
        let data = JsonText::from_value(&json!({ "n": 1 }));
        cache.set_cache_item_json("writer", "a", &data, Some(&p), None).unwrap();
        // PostgreSQL inserts the kept row when it folds the pending deltas.
        sodarcache::db::models::kept_stats::fold(conn).unwrap();
        // The start-up backfill writes the natural key.
        assert_eq!(sodarcache::db::search::backfill(conn).unwrap(), 1);
        let key: String = projects::table
            .find(p.id)
            .select(projects::title_sort)
            .first(conn)
            .unwrap();
        assert_eq!(key, sodarcache::db::search::natural_key("Top / Project 7"));
        let kept_key: Option<String> = sodarcache::db::schema::cache_scope_stats::table
            .filter(sodarcache::db::schema::cache_scope_stats::project_key.eq(p.id))
            .select(sodarcache::db::schema::cache_scope_stats::title_sort)
            .first(conn)
            .unwrap();
        assert_eq!(kept_key.as_deref(), Some(key.as_str()), "the kept row's title key");
        assert_kept(conn, "backfilling a title key");
    }
}
