//! Criterion benchmarks of the in-process cache API (`SodarCache`) on SQLite and, when
//! `TEST_DATABASE_URL` names a PostgreSQL server, on PostgreSQL (issue 5).
//!
//! ```text
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench cache_api
//! ```
//!
//! One benchmark group per backend (`sqlite`, `postgres`). Items are ~1 KB JSON documents.
//! After a `cargo bench` run the benchmark writes a markdown summary with the upstream
//! figures and targets of issue 5 to `<criterion dir>/cache_api-summary.md` and prints it.
//! Under `cargo test --all-targets` criterion runs every benchmark once (test mode), and
//! no summary is written.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use serde_json::json;
use sodarcache::cache::{CacheWrite, SodarCache};
use sodarcache::db::JsonText;
use sodarcache::db::Scope;
use sodarcache::db::models::{CacheItem, ItemQuery, Project, User};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::fixtures as fx;

/// A registered app name.
const APP: &str = "example_project_app";
/// Items in the large project.
const LARGE: usize = 10_000;
/// Items in the small project.
const SMALL: usize = 100;
/// Items per `set_cache_items` call.
const BATCH: usize = 1_000;

/// A ~1 KB JSON document, different for every `i`.
fn doc(i: usize) -> serde_json::Value {
    json!({
        "id": i,
        "name": format!("item-{i:06}"),
        "status": if i.is_multiple_of(3) { "active" } else { "archived" },
        "tags": ["alpha", "beta", "gamma", "delta"],
        "counts": { "samples": i % 97, "files": i % 13, "bytes": i * 1024 },
        "notes": "lorem ipsum dolor sit amet ".repeat(34),
    })
}

/// One database with a user, the projects the benchmarks need and a cache API over it.
struct Fixture {
    // Keeps the database alive (PostgreSQL: dropped after the benchmarks).
    _db: common::TestDb,
    cache: Arc<SodarCache>,
    user: User,
    /// Single-item writes and reads.
    single: Project,
    /// `set_cache_items` batches.
    batch: Project,
    /// `SMALL` items.
    small: Project,
    /// `LARGE` items.
    large: Project,
    /// Emptied and refilled by the `delete_cache` benchmark.
    delete: Project,
    /// `LARGE` documents, made once.
    docs: Vec<JsonText>,
    /// `LARGE` item names, made once.
    names: Vec<String>,
}

impl Fixture {
    fn new(db: common::TestDb) -> Fixture {
        let registry = db.registry(PluginRegistry::builder().project_app(ExampleProjectApp));
        let cache = registry.cache().expect("sodar_cache is enabled by default");
        let mut conn = cache.conn().expect("connection");
        let user = fx::user(&mut conn, "bench", false);
        let top = fx::category(&mut conn, "Bench", None);
        let mut project = |title: &str| fx::project(&mut conn, title, Some(&top), None);
        let (single, batch, small, large, delete) = (
            project("single"),
            project("batch"),
            project("small"),
            project("large"),
            project("delete"),
        );
        drop(conn);
        let fixture = Fixture {
            single,
            batch,
            small,
            large,
            delete,
            docs: (0..LARGE).map(|i| JsonText::from_value(&doc(i))).collect(),
            names: (0..LARGE).map(|i| format!("item-{i:06}")).collect(),
            _db: db,
            cache,
            user,
        };
        fixture.fill(&fixture.small, SMALL);
        fixture.fill(&fixture.large, LARGE);
        fixture
            .cache
            .set_cache_item(
                APP,
                "update",
                &doc(0),
                "json",
                Some(&fixture.single),
                Some(&fixture.user),
            )
            .expect("seed item");
        fixture
    }

    /// Writes the first `n` prepared items into `project` in one `set_cache_items` call.
    fn fill(&self, project: &Project, n: usize) {
        let writes: Vec<CacheWrite<'_>> = self.names[..n]
            .iter()
            .zip(&self.docs)
            .map(|(name, data)| CacheWrite {
                app_name: APP,
                name,
                data: data.clone(),
                project: Some(project),
                user: Some(&self.user),
            })
            .collect();
        assert_eq!(self.cache.set_cache_items(&writes).expect("fill"), n);
    }
}

fn bench_backend(c: &mut Criterion, backend: &str, db: common::TestDb) {
    let f = Fixture::new(db);
    let cache = &f.cache;
    let data = doc(1);
    let mut g = c.benchmark_group(backend);
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    g.throughput(Throughput::Elements(1));
    // Part of every call below: PostgreSQL checkouts ping the server (one round trip).
    g.bench_function("pool_checkout", |b| {
        b.iter(|| cache.conn().expect("connection"));
    });
    let counter = AtomicU64::new(0);
    g.bench_function(BenchmarkId::new("set_cache_item", "create"), |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let name = format!("create-{n}");
            cache
                .set_cache_item(APP, &name, &data, "json", Some(&f.single), Some(&f.user))
                .expect("create")
        });
    });
    g.bench_function(BenchmarkId::new("set_cache_item", "update"), |b| {
        b.iter(|| {
            cache
                .set_cache_item(APP, "update", &data, "json", Some(&f.single), Some(&f.user))
                .expect("update")
        });
    });
    // Every write changes the data, so each one makes a version: history kept (the
    // default, 5 versions) against history off. Issue 12: within 1.5x.
    let other = doc(2);
    for keep in [0u32, 5] {
        sodarcache::db::models::ItemVersion::set_keep(&mut cache.conn().expect("conn"), keep)
            .expect("history setting");
        let flip = AtomicU64::new(0);
        g.bench_function(
            BenchmarkId::new("set_cache_item", format!("change_history_{keep}")),
            |b| {
                b.iter(|| {
                    let d = if flip.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
                        &other
                    } else {
                        &data
                    };
                    cache
                        .set_cache_item(
                            APP,
                            &format!("changing-{keep}"),
                            d,
                            "json",
                            Some(&f.single),
                            Some(&f.user),
                        )
                        .expect("change")
                });
            },
        );
    }
    g.bench_function("get_cache_item", |b| {
        b.iter(|| {
            let item = cache.get_cache_item(APP, "update", Some(&f.single));
            black_box(item.expect("get").expect("item exists"))
        });
    });

    // Batches: 1,000 items in one call, per-item throughput. The names and documents are
    // made in the (untimed) setup; building the `CacheWrite`s and the call are timed.
    g.throughput(Throughput::Elements(BATCH as u64));
    let set_items = |names: &[String], docs: Vec<JsonText>| {
        let writes: Vec<CacheWrite<'_>> = names
            .iter()
            .zip(docs)
            .map(|(name, data)| CacheWrite {
                app_name: APP,
                name,
                data,
                project: Some(&f.batch),
                user: Some(&f.user),
            })
            .collect();
        cache.set_cache_items(&writes).expect("set_cache_items")
    };
    let round = AtomicU64::new(0);
    g.bench_function(BenchmarkId::new("set_cache_items_1000", "create"), |b| {
        b.iter_batched(
            || {
                let r = round.fetch_add(1, Ordering::Relaxed);
                let names: Vec<String> = (0..BATCH).map(|i| format!("batch-{r}-{i}")).collect();
                (names, f.docs[..BATCH].to_vec())
            },
            |(names, docs)| set_items(&names, docs),
            BatchSize::SmallInput,
        );
    });
    g.bench_function(BenchmarkId::new("set_cache_items_1000", "update"), |b| {
        b.iter_batched(
            || f.docs[..BATCH].to_vec(),
            |docs| set_items(&f.names[..BATCH], docs),
            BatchSize::SmallInput,
        );
    });
    // Every item changes at every call: history kept against history off.
    for keep in [0u32, 5] {
        sodarcache::db::models::ItemVersion::set_keep(&mut cache.conn().expect("conn"), keep)
            .expect("history setting");
        let flip = AtomicU64::new(0);
        g.bench_function(
            BenchmarkId::new("set_cache_items_1000", format!("change_history_{keep}")),
            |b| {
                b.iter_batched(
                    || {
                        let r = flip.fetch_add(1, Ordering::Relaxed) as usize % 2;
                        f.docs[r..BATCH + r].to_vec()
                    },
                    |docs| set_items(&f.names[..BATCH], docs),
                    BatchSize::SmallInput,
                );
            },
        );
    }

    // Reading a whole project, and the admin page's first page of 50.
    for (project, n) in [(&f.small, SMALL), (&f.large, LARGE)] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("get_project_cache", n), |b| {
            b.iter(|| {
                let items = cache.get_project_cache(project, "json").expect("list");
                assert_eq!(items.len(), n);
                items
            });
        });
        g.bench_function(BenchmarkId::new("query_first_page", n), |b| {
            let query = ItemQuery {
                scope: Scope::Project(project.id),
                limit: 50,
                ..Default::default()
            };
            b.iter(|| {
                let mut conn = cache.conn().expect("connection");
                let (page, total) = CacheItem::query(&mut conn, &query).expect("query");
                assert_eq!(total as usize, n);
                page
            });
        });
    }

    // Deleting 10,000 items: every iteration refills the project first (untimed).
    g.throughput(Throughput::Elements(LARGE as u64));
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(2));
    g.bench_function(BenchmarkId::new("delete_cache", LARGE), |b| {
        b.iter_batched(
            || f.fill(&f.delete, LARGE),
            |()| {
                let n = cache.delete_cache(None, Some(&f.delete)).expect("delete");
                assert_eq!(n, LARGE);
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

/// Where criterion writes its results (the same rules as criterion's default, made explicit
/// so the summary reads from the same place).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion")
    }
}

/// Seconds per iteration of one benchmark of this run, as criterion reports it (the slope
/// for linear sampling, else the mean), or none when it did not run this time.
fn seconds(dir: &Path, id: &str, since: SystemTime) -> Option<f64> {
    let file = dir.join(id).join("new/estimates.json");
    let modified = std::fs::metadata(&file).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    let ns = v["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| v["mean"]["point_estimate"].as_f64())?;
    Some(ns / 1e9)
}

fn fmt_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn fmt_rate(r: f64) -> String {
    let r = r.round() as u64;
    let s = r.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The markdown tables for the backends that ran, or none when no benchmark was measured.
fn summary(dir: &Path, backends: &[&str], since: SystemTime) -> Option<String> {
    let measured = std::cell::Cell::new(0_usize);
    let mut md = String::from("## In-process cache API (criterion)\n");
    for &backend in backends {
        let set_target = if backend == "postgres" { 5.0 } else { 20.0 };
        let t = |id: &str| {
            let s = seconds(dir, &format!("{backend}/{id}"), since);
            measured.set(measured.get() + usize::from(s.is_some()));
            s
        };
        let _ = write!(
            md,
            "\n### {backend}\n\n\
             | operation | time | operations/s | upstream | ratio to upstream | target | met |\n\
             |---|---|---|---|---|---|---|\n"
        );
        let mut row = |op: &str, cells: Option<[String; 6]>| {
            let cells = cells.unwrap_or_else(|| {
                [
                    "not run".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                    "".into(),
                ]
            });
            let _ = writeln!(md, "| {op} | {} |", cells.join(" | "));
        };
        let yes = |ok: bool| if ok { "yes" } else { "**no**" }.to_owned();
        row(
            "pool checkout (`cache.conn()`, part of every call below)",
            t("pool_checkout").map(|s| {
                let dash = || "—".to_owned();
                [
                    fmt_time(s),
                    fmt_rate(1.0 / s),
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                ]
            }),
        );
        // Single-item operations: per call, against upstream's calls per second.
        for (id, op, upstream, target) in [
            (
                "set_cache_item/create",
                "`set_cache_item` create",
                680.0,
                Some(set_target),
            ),
            (
                "set_cache_item/update",
                "`set_cache_item` update",
                710.0,
                Some(set_target),
            ),
            ("get_cache_item", "`get_cache_item`", 1_400.0, None),
        ] {
            row(
                op,
                t(id).map(|s| {
                    let ratio = 1.0 / s / upstream;
                    [
                        fmt_time(s),
                        fmt_rate(1.0 / s),
                        format!("{} /s", fmt_rate(upstream)),
                        format!("{ratio:.1}×"),
                        target.map_or_else(|| "—".into(), |x| format!("≥ {x}×")),
                        target.map_or_else(|| "—".into(), |x| yes(ratio >= x)),
                    ]
                }),
            );
        }
        // Batches: per item, against 50× upstream's single-item rate.
        for (id, op, upstream) in [
            (
                "set_cache_items_1000/create",
                "`set_cache_items` 1,000 new items, per item",
                680.0,
            ),
            (
                "set_cache_items_1000/update",
                "`set_cache_items` 1,000 existing items, per item",
                710.0,
            ),
        ] {
            row(
                op,
                t(id).map(|s| {
                    let per_item = s / BATCH as f64;
                    let ratio = 1.0 / per_item / upstream;
                    [
                        format!("{} ({} per call)", fmt_time(per_item), fmt_time(s)),
                        format!("{} items/s", fmt_rate(1.0 / per_item)),
                        format!("{} /s", fmt_rate(upstream)),
                        format!("{ratio:.1}×"),
                        format!("≥ 50× ({} items/s)", fmt_rate(50.0 * upstream)),
                        yes(ratio >= 50.0),
                    ]
                }),
            );
        }
        // Whole-project operations: per call.
        let small_page = t(&format!("query_first_page/{SMALL}"));
        for (id, op, upstream) in [
            (
                format!("get_project_cache/{SMALL}"),
                "`get_project_cache`, 100 items",
                None,
            ),
            (
                format!("get_project_cache/{LARGE}"),
                "`get_project_cache`, 10,000 items",
                Some(0.13),
            ),
            (
                format!("query_first_page/{SMALL}"),
                "`CacheItem::query` first page of 50, 100 items",
                None,
            ),
            (
                format!("query_first_page/{LARGE}"),
                "`CacheItem::query` first page of 50, 10,000 items",
                None,
            ),
            (
                format!("delete_cache/{LARGE}"),
                "`delete_cache` of a project's 10,000 items",
                Some(0.16),
            ),
        ] {
            let is_large_page = id == format!("query_first_page/{LARGE}");
            row(
                op,
                t(&id).map(|s| {
                    let (target, met) = match (is_large_page, small_page) {
                        (true, Some(small)) => (
                            format!("≤ 1.5× the 100-item page (is {:.2}×)", s / small),
                            yes(s / small <= 1.5),
                        ),
                        _ => ("—".into(), "—".into()),
                    };
                    [
                        fmt_time(s),
                        fmt_rate(1.0 / s),
                        upstream.map_or_else(|| "—".into(), |u: f64| fmt_time(u)),
                        upstream.map_or_else(|| "—".into(), |u| format!("{:.1}×", u / s)),
                        target,
                        met,
                    ]
                }),
            );
        }
    }
    (measured.get() > 0).then_some(md)
}

fn main() {
    let since = SystemTime::now();
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    let mut backends = vec!["sqlite"];
    bench_backend(&mut c, "sqlite", common::TestDb::sqlite());
    if let Some(db) = common::TestDb::postgres() {
        backends.push("postgres");
        bench_backend(&mut c, "postgres", db);
    }
    c.final_summary();

    // Only a real `cargo bench` run measures: not the single pass of `cargo test`, nor
    // `--profile-time`, `--list` or a filter that matched nothing.
    if std::env::args().any(|a| a == "--bench") {
        let md = summary(&dir, &backends, since);
        let Some(md) = md else {
            println!("\nNo benchmark was measured: summary not written.");
            return;
        };
        let file = dir.join("cache_api-summary.md");
        match std::fs::write(&file, &md) {
            Ok(()) => println!("\n{md}\nSummary written to {}", file.display()),
            Err(e) => eprintln!("cannot write {}: {e}", file.display()),
        }
    }
}
