//! A site at the size of a real SODAR installation, built in seconds: 300 projects,
//! one of them with 2,011 items across four apps (one of them not installed on the
//! server, five items of about 1 MB), 2,000+ items in all, 600 sync jobs, non-ASCII
//! and 255-character names. Items go in through `set_cache_items`, jobs through SQL.

use chrono::Duration;
use diesel::prelude::*;
use serde_json::json;
use sodarcache::cache::CacheWrite;
use sodarcache::db::models::PluginRun;
use sodarcache::db::models::{Project, Role, User};
use sodarcache::db::schema::{cache_items, projects, sync_job_plugins, sync_jobs};
use sodarcache::db::{DbConn, DbUuid, JsonText, now};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry, RegistryBuilder};

use super::plugins::TestPlugin;
use super::{TestApp, TestDb, fixtures as fx};

/// Apps the server has installed.
pub const INSTALLED: [&str; 3] = ["example_project_app", "irods_stats", "samplesheets"];
/// An app whose items are in the database but whose plugin is not installed.
pub const UNINSTALLED: &str = "legacy_app";
/// Items of the big project per app (2,011 in all).
pub const BIG_COUNTS: [(&str, usize); 4] = [
    ("example_project_app", 1200),
    ("irods_stats", 306),
    (UNINSTALLED, 5),
    ("samplesheets", 500),
];
/// Number of projects (type PROJECT).
pub const PROJECTS: usize = 300;
/// Number of sync jobs.
pub const JOBS: usize = 600;
/// The non-ASCII item name search tests look for.
pub const UMLAUT_ITEM: &str = "Übersicht Ärzte";

/// A valid 255-character name without spaces.
pub fn long_name(prefix: &str) -> String {
    let mut s = prefix.to_owned();
    while s.chars().count() < 255 {
        s.push_str("Lorem_ipsum_dolor-");
    }
    s.chars().take(255).collect()
}

/// The plugins the server runs: the installed apps only.
pub fn server_plugins() -> RegistryBuilder {
    PluginRegistry::builder()
        .project_app(ExampleProjectApp)
        .project_app(TestPlugin::noop("irods_stats"))
        .project_app(TestPlugin::noop("samplesheets"))
}

/// What the fixture made.
pub struct Scale {
    /// Every project (type PROJECT), in creation order; `projects[0]` is the big one.
    pub projects: Vec<Project>,
    /// "Bulk project 1": 2,011 items.
    pub big: Project,
    /// A project with a 255-character title and a 255-character item.
    pub long: Project,
    /// The 255-character item's UUID.
    pub long_item: String,
    /// One of the 1 MB items of the big project.
    pub large_item: String,
    /// A project only `guest` may read (besides superusers), with the oldest jobs.
    pub guest_project: Project,
    /// `root` (superuser), `owner` (owner of category "Bulk"), `guest`.
    pub users: Vec<User>,
    /// Items in the database.
    pub items: usize,
}

/// Builds the site over `app`'s database (`db` gives a registry that knows the
/// uninstalled app too, to write its items).
pub fn build(db: &TestDb, app: &TestApp) -> Scale {
    let conn = &mut **app.conn();
    let root = fx::user(conn, "root", true);
    let owner = fx::user(conn, "owner", false);
    let guest = fx::user(conn, "guest", false);
    let bulk = fx::category(conn, "Bulk", None);
    let research = fx::category(conn, "Forschung Übersicht", None);
    fx::role(conn, &bulk, &owner, Role::Owner);
    let mut projects = Vec::with_capacity(PROJECTS);
    for i in 1..=PROJECTS - 3 {
        projects.push(fx::project(
            conn,
            &format!("Bulk project {i}"),
            Some(&bulk),
            None,
        ));
    }
    let long = fx::project(conn, &long_name("Long_title_"), Some(&research), None);
    let umlaut = fx::project(conn, "Ärztekammer Studie", Some(&research), None);
    let guest_project = fx::project(conn, "Gästebuch", Some(&research), None);
    fx::role(conn, &guest_project, &guest, Role::Guest);
    let umlaut_id = umlaut.id;
    projects.extend([long.clone(), umlaut, guest_project.clone()]);
    let big = projects[0].clone();

    let writer = db.registry(server_plugins().project_app(TestPlugin::noop(UNINSTALLED)));
    let cache = writer.cache().expect("cache backend");
    let mut names: Vec<(&str, String, serde_json::Value, &Project)> = Vec::new();
    let filler = "x".repeat(1_600_000);
    for (app_name, n) in BIG_COUNTS {
        for i in 0..n {
            let name = match (app_name, i) {
                ("example_project_app", 0) => UMLAUT_ITEM.to_owned(),
                ("example_project_app", 1) => long_name("Item_"),
                _ => format!("{app_name} item {i}"),
            };
            let data = if app_name == "irods_stats" && i < 5 {
                json!({ "blob": &filler[..900_000 + i * 150_000], "i": i })
            } else {
                json!({ "i": i, "app": app_name })
            };
            names.push((app_name, name, data, &big));
        }
    }
    // One item in each of a hundred other projects, a long-named one in `long`.
    for p in projects.iter().skip(1).take(100) {
        names.push((
            "example_project_app",
            "summary".to_owned(),
            json!({"p": p.id}),
            p,
        ));
    }
    names.push((
        "samplesheets",
        long_name("Sheet_"),
        json!({"long": true}),
        &long,
    ));
    names.push((
        "samplesheets",
        "visitors".to_owned(),
        json!([1, 2]),
        &guest_project,
    ));
    let writes: Vec<CacheWrite<'_>> = names
        .iter()
        .map(|(a, n, d, p)| CacheWrite {
            app_name: a,
            name: n,
            data: JsonText::from_value(d),
            project: Some(p),
            user: Some(&owner),
        })
        .collect();
    let items = cache.set_cache_items(&writes).expect("write items");
    let find = |project: &Project, app_name: &str, name: &str| -> String {
        cache_items::table
            .filter(cache_items::project_id.eq(project.id))
            .filter(cache_items::app_name.eq(app_name))
            .filter(cache_items::name.eq(name))
            .select(cache_items::uuid)
            .first::<DbUuid>(&mut **app.conn())
            .expect("item")
            .to_string()
    };
    let long_item = find(&long, "samplesheets", &long_name("Sheet_"));
    let large_item = find(&big, "irods_stats", "irods_stats item 0");
    insert_jobs(conn, &projects, &guest_project, &root);
    // Every project existed before the jobs, but one created after the last of them.
    diesel::update(projects::table.filter(projects::id.ne(umlaut_id)))
        .set(projects::date_created.eq(now() - Duration::days(60)))
        .execute(conn)
        .expect("backdate projects");
    let ids: Vec<i64> = projects.iter().map(|p| p.id).collect();
    let mut reloaded = Project::find_many(conn, &ids).expect("reload projects");
    reloaded.sort_by_key(|p| ids.iter().position(|&i| i == p.id));
    let projects = reloaded;
    let find_project = |id: i64| {
        projects
            .iter()
            .find(|p| p.id == id)
            .expect("project")
            .clone()
    };
    let (big, long, guest_project) = (
        find_project(big.id),
        find_project(long.id),
        find_project(guest_project.id),
    );
    Scale {
        projects,
        big,
        long,
        long_item,
        large_item,
        guest_project,
        users: vec![root, owner, guest],
        items,
    }
}

/// 600 finished jobs: the guest project's five first (the oldest), then project jobs
/// over fifty projects and every tenth a site job; one in seven failed.
fn insert_jobs(conn: &mut DbConn, projects: &[Project], guest_project: &Project, root: &User) {
    let start = now() - Duration::days(30);
    let rows: Vec<_> = (0..JOBS)
        .map(|i| {
            let project = if i < 5 {
                Some(guest_project.id)
            } else if i % 10 == 0 {
                None
            } else {
                Some(projects[i % 50].id)
            };
            let created = start + Duration::minutes(i as i64);
            let status = if i % 7 == 3 { "failed" } else { "done" };
            (
                sync_jobs::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
                sync_jobs::project_id.eq(project),
                sync_jobs::origin.eq(if i % 3 == 0 { "cli" } else { "web" }),
                sync_jobs::user_id.eq(Some(root.id)),
                sync_jobs::status.eq(status),
                sync_jobs::created.eq(created),
                sync_jobs::started.eq(Some(created)),
                sync_jobs::finished.eq(Some(created + Duration::seconds(2))),
            )
        })
        .collect();
    sodarcache::on_backend!(conn, |c| diesel::insert_into(sync_jobs::table)
        .values(&rows)
        .execute(c))
    .expect("insert jobs");
    // The newest job gets plugin outcomes, one with a long error naming a long project.
    let (job_id, at): (i64, chrono::NaiveDateTime) = sync_jobs::table
        .order(sync_jobs::id.desc())
        .select((sync_jobs::id, sync_jobs::created))
        .first(conn)
        .expect("newest job");
    for (plugin, error) in [
        ("example_project_app", None),
        (
            "samplesheets",
            Some(format!(
                "source unreachable: {} (project \"{}\")",
                long_name("https://example.org/very/long/path/"),
                long_name("Long_title_")
            )),
        ),
    ] {
        diesel::insert_into(sync_job_plugins::table)
            .values(&PluginRun {
                job_id,
                plugin: plugin.to_owned(),
                ok: error.is_none(),
                error,
                items_written: 2011,
                started: at,
                finished: at + Duration::seconds(1),
            })
            .execute(conn)
            .expect("plugin run");
    }
}

/// The newest job's UUID (it has plugin outcomes).
pub fn newest_job(conn: &mut DbConn) -> String {
    sync_jobs::table
        .order(sync_jobs::id.desc())
        .select(sync_jobs::uuid)
        .first::<DbUuid>(conn)
        .expect("job")
        .to_string()
}
