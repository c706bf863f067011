//! Criterion benchmarks of the admin pages at two sizes each, over HTTP against a real
//! server, on SQLite and, when `TEST_DATABASE_URL` names a PostgreSQL server, on
//! PostgreSQL (issue 8): the overview with 5,000 projects against 50 (as it opens, sorted
//! by last sync, by items, filtered to failed syncs, and as a user with roles on five
//! projects), the jobs list with 10,000 jobs against 100, the item page of a 30 MB item
//! against a 1 MB one.
//!
//! ```text
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench admin_pages
//! ```
//!
//! Each request is one user's GET of a whole page (handler, queries, template, no
//! compression) on loopback; a superuser's unless the page's name ends in `_user`. On
//! PostgreSQL the filled database is analyzed before measuring, as autovacuum does on
//! a running site within a minute of such a fill. The last sync of the first 50
//! projects failed, so `status=failed` is a full page on both sites. After a `cargo
//! bench` run the ratios (large / small) are printed and written to
//! `<criterion dir>/admin_pages-summary.md`. Under `cargo test --all-targets` criterion
//! runs each benchmark once on small sites.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/common/web.rs"]
mod web;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::Duration as Age;
use criterion::Criterion;
use diesel::prelude::*;
use serde_json::json;
use sodarcache::cache::CacheWrite;
use sodarcache::db::models::{Project, User};
use sodarcache::db::schema::sync_jobs;
use sodarcache::db::{DbConn, DbUuid, JsonText, now};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::{TestApp, TestDb, fixtures as fx};

const APP: &str = "example_project_app";

/// One site: how many projects and jobs, and the size of its one large item.
#[derive(Clone, Copy)]
struct Size {
    label: &'static str,
    projects: usize,
    jobs: usize,
    item_bytes: usize,
}

/// A running server over a filled database, a logged-in superuser's client, and the
/// client of `reader`, a user with the guest role on five projects.
struct Site {
    _db: TestDb,
    app: TestApp,
    client: reqwest::Client,
    reader: reqwest::Client,
    item: String,
}

fn is_bench() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A JSON document of about `bytes` bytes: rows of samples, as plugins cache them.
fn document(bytes: usize) -> JsonText {
    let row = |i: usize| {
        format!(
            r#"{{"id":"S{i:07}","name":"Sample {i}","qc":{{"passed":{},"reads":{}}},"tags":["dna","wgs"]}}"#,
            !i.is_multiple_of(3),
            1000 + i
        )
    };
    let mut text = String::with_capacity(bytes + 200);
    text.push_str(r#"{"meta":{"source":"bench","version":2},"samples":["#);
    let mut i = 0;
    while text.len() < bytes {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&row(i));
        i += 1;
    }
    text.push_str("]}");
    JsonText::parse(&text).expect("valid JSON")
}

fn insert_jobs(conn: &mut DbConn, projects: &[Project], root: &User, n: usize) {
    let start = now() - Age::days(30);
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|&i| {
                let created = start + Age::seconds(i as i64 * 10);
                (
                    sync_jobs::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
                    sync_jobs::project_id
                        .eq((i % 10 != 0).then(|| projects[i % projects.len()].id)),
                    sync_jobs::origin.eq(if i % 3 == 0 { "cli" } else { "web" }),
                    sync_jobs::user_id.eq(Some(root.id)),
                    sync_jobs::status.eq(if i % 7 == 3 { "failed" } else { "done" }),
                    sync_jobs::created.eq(created),
                    sync_jobs::started.eq(Some(created)),
                    sync_jobs::finished.eq(Some(created + Age::seconds(2))),
                )
            })
            .collect();
        sodarcache::on_backend!(conn, |c| diesel::insert_into(sync_jobs::table)
            .values(&rows)
            .execute(c))
        .expect("insert jobs");
    }
    // The last sync of the first 50 projects failed, so `status=failed` shows a full
    // page of 50 rows on both sites (the pattern above leaves the small site 6).
    let failed_at = now() - Age::minutes(5);
    let rows: Vec<_> = projects
        .iter()
        .take(50)
        .map(|p| {
            (
                sync_jobs::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
                sync_jobs::project_id.eq(Some(p.id)),
                sync_jobs::origin.eq("web"),
                sync_jobs::user_id.eq(Some(root.id)),
                sync_jobs::status.eq("failed"),
                sync_jobs::created.eq(failed_at),
                sync_jobs::started.eq(Some(failed_at)),
                sync_jobs::finished.eq(Some(failed_at + Age::seconds(2))),
            )
        })
        .collect();
    sodarcache::on_backend!(conn, |c| diesel::insert_into(sync_jobs::table)
        .values(&rows)
        .execute(c))
    .expect("insert failed jobs");
}

fn build(db: TestDb, size: Size) -> Site {
    let app = TestApp::spawn(
        &db,
        PluginRegistry::builder().project_app(ExampleProjectApp),
        |_| {},
    );
    let cache = app.registry.cache().expect("cache backend");
    let (root, projects) = {
        let conn = &mut **app.conn();
        let root = fx::user(conn, "root", true);
        let reader = fx::user(conn, "reader", false);
        let top = fx::category(conn, "Bench", None);
        let projects: Vec<Project> = (1..=size.projects)
            .map(|i| fx::project(conn, &format!("Project {i}"), Some(&top), None))
            .collect();
        for p in projects.iter().step_by(size.projects / 5) {
            fx::role(conn, p, &reader, sodarcache::db::models::Role::Guest);
        }
        (root, projects)
    };
    // Two small items per project, written in batches.
    let names = ["summary", "stats"];
    let data = JsonText::from_value(&json!({"samples": 12, "files": 340, "ok": true}));
    for chunk in projects.chunks(500) {
        let writes: Vec<CacheWrite<'_>> = chunk
            .iter()
            .flat_map(|p| {
                names.iter().map(|n| CacheWrite {
                    app_name: APP,
                    name: n,
                    data: data.clone(),
                    project: Some(p),
                    user: Some(&root),
                })
            })
            .collect();
        cache.set_cache_items(&writes).expect("items");
    }
    let item = cache
        .set_cache_item_json(
            APP,
            "large",
            &document(size.item_bytes),
            Some(&projects[0]),
            Some(&root),
        )
        .expect("large item")
        .uuid
        .to_string();
    insert_jobs(&mut app.conn(), &projects, &root, size.jobs);
    {
        let conn = &mut **app.conn();
        if let DbConn::Pg(_) = conn {
            diesel::sql_query("ANALYZE").execute(conn).expect("analyze");
        }
    }
    let client = web::run(web::logged_in(&app, "root"));
    let reader = web::run(web::logged_in(&app, "reader"));
    Site {
        _db: db,
        app,
        client,
        reader,
        item,
    }
}

fn get(rt: &tokio::runtime::Runtime, site: &Site, page: &str, path: &str) -> usize {
    let client = if page.ends_with("_user") {
        &site.reader
    } else {
        &site.client
    };
    rt.block_on(async {
        let resp = client.get(site.app.url(path)).send().await.expect("GET");
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.bytes().await.expect("body").len()
    })
}

/// The pages measured, by name, at a site.
fn pages(site: &Site) -> [(&'static str, String); 7] {
    [
        ("overview", "/cache/".to_owned()),
        ("overview_sync", "/cache/?sort=sync&dir=desc".to_owned()),
        ("overview_items", "/cache/?sort=items&dir=desc".to_owned()),
        ("overview_failed", "/cache/?status=failed".to_owned()),
        ("overview_user", "/cache/".to_owned()),
        ("jobs", "/cache/jobs".to_owned()),
        ("item", format!("/cache/item/{}", site.item)),
    ]
}

fn bench_backend(
    c: &mut Criterion,
    backend: &str,
    sizes: [Size; 2],
    mut db: impl FnMut() -> TestDb,
) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sites: Vec<(Size, Site)> = sizes.iter().map(|&s| (s, build(db(), s))).collect();
    let mut group = c.benchmark_group(format!("admin_pages/{backend}"));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(2));
    for (size, site) in &sites {
        for (page, path) in pages(site) {
            let bytes = get(&rt, site, page, &path);
            eprintln!("{backend} {page} at {}: {bytes} bytes of HTML", size.label);
            group.bench_function(format!("{page}/{}", size.label), |b| {
                b.iter(|| get(&rt, site, page, &path))
            });
        }
    }
    group.finish();
}

/// Where criterion writes its results (as in `benches/cache_api.rs`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion")
    }
}

/// The mean estimate of a benchmark written since `since`, in seconds.
fn seconds(dir: &Path, id: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(id).join("new/estimates.json");
    let meta = std::fs::metadata(&path).ok()?;
    if meta.modified().ok()? < since {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64().map(|ns| ns / 1e9)
}

fn summary(dir: &Path, backends: &[&str], sizes: [Size; 2], since: SystemTime) -> Option<String> {
    let mut out = String::from(
        "| backend | page | small site | large site | large / small | target |\n|---|---|---|---|---|---|\n",
    );
    let rows = [
        ("overview", "projects", 2.0),
        ("overview_sync", "projects", 2.0),
        ("overview_items", "projects", 2.0),
        ("overview_failed", "projects", 2.0),
        ("overview_user", "projects", 2.0),
        ("jobs", "jobs", 2.0),
        ("item", "item", 3.0),
    ];
    for backend in backends {
        for (page, what, target) in rows {
            let id = |s: &Size| format!("admin_pages_{backend}/{page}_{}", s.label);
            // A filtered run (`-- overview`) measured only some pages.
            let (Some(small), Some(large)) = (
                seconds(dir, &id(&sizes[0]), since),
                seconds(dir, &id(&sizes[1]), since),
            ) else {
                continue;
            };
            let describe = |s: &Size| match what {
                "projects" => format!("{} projects", s.projects),
                "jobs" => format!("{} jobs", s.jobs),
                _ => format!("{} MB item", s.item_bytes / 1_000_000),
            };
            let _ = writeln!(
                out,
                "| {backend} | {page} | {} in {:.2} ms | {} in {:.2} ms | {:.2}x | within {target}x |",
                describe(&sizes[0]),
                small * 1e3,
                describe(&sizes[1]),
                large * 1e3,
                large / small
            );
        }
    }
    Some(out)
}

fn main() {
    let since = SystemTime::now();
    let bench = is_bench();
    let sizes = if bench {
        [
            Size {
                label: "small",
                projects: 50,
                jobs: 100,
                item_bytes: 1_000_000,
            },
            Size {
                label: "large",
                projects: 5_000,
                jobs: 10_000,
                item_bytes: 30_000_000,
            },
        ]
    } else {
        [
            Size {
                label: "small",
                projects: 5,
                jobs: 10,
                item_bytes: 10_000,
            },
            Size {
                label: "large",
                projects: 50,
                jobs: 100,
                item_bytes: 3_000_000,
            },
        ]
    };
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    let mut backends = vec!["sqlite"];
    bench_backend(&mut c, "sqlite", sizes, TestDb::sqlite);
    if TestDb::postgres().is_some() {
        backends.push("postgres");
        bench_backend(&mut c, "postgres", sizes, || {
            TestDb::postgres().expect("PostgreSQL")
        });
    }
    c.final_summary();
    if bench && let Some(text) = summary(&dir, &backends, sizes, since) {
        let file = dir.join("admin_pages-summary.md");
        match std::fs::write(&file, &text) {
            Ok(()) => println!("\n{text}\nSummary written to {}", file.display()),
            Err(e) => eprintln!("cannot write {}: {e}", file.display()),
        }
    }
}
