//! What item history costs a write (issue 12: within 1.5x of a write without it):
//! `set_cache_item` and a 1,000-item `set_cache_items` with history on
//! (`SODARCACHE_HISTORY_VERSIONS` = 5, the default) and off (0), for new items and for
//! replacing items whose data changes at every write (each one makes a version), on
//! SQLite and, when `TEST_DATABASE_URL` names a PostgreSQL server, PostgreSQL.
//!
//! ```text
//! TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench history_writes
//! ```
//!
//! A `cargo bench` run prints a table of on/off ratios and writes it to
//! `<criterion dir>/history_writes-summary.md`. Items are ~1 KB JSON documents.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput};
use serde_json::json;
use sodarcache::cache::{CacheWrite, SodarCache};
use sodarcache::db::JsonText;
use sodarcache::db::models::{ItemVersion, Project, User};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::fixtures as fx;

const APP: &str = "example_project_app";
const BATCH: usize = 1_000;
/// History off and on (the default number of versions).
const KEEP: [u32; 2] = [0, 5];

/// A ~1 KB JSON document, different for every `i`.
fn doc(i: usize) -> serde_json::Value {
    json!({
        "id": i,
        "name": format!("item-{i:06}"),
        "tags": ["alpha", "beta", "gamma", "delta"],
        "counts": { "samples": i % 97, "files": i % 13, "bytes": i * 1024 },
        "notes": "lorem ipsum dolor sit amet ".repeat(34),
    })
}

fn bench_backend(c: &mut Criterion, backend: &str, db: common::TestDb) {
    let registry = db.registry(PluginRegistry::builder().project_app(ExampleProjectApp));
    let cache: Arc<SodarCache> = registry.cache().expect("sodar_cache enabled");
    let (user, project): (User, Project) = {
        let mut conn = cache.conn().expect("connection");
        (
            fx::user(&mut conn, "bench", false),
            fx::project(&mut conn, "history", None, None),
        )
    };
    let docs: Vec<JsonText> = (0..=BATCH).map(|i| JsonText::from_value(&doc(i))).collect();
    let (a, b) = (doc(1), doc(2));
    let mut g = c.benchmark_group(format!("history_{backend}"));
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let counter = AtomicU64::new(0);
    for keep in KEEP {
        ItemVersion::set_keep(&mut cache.conn().expect("conn"), keep).expect("history setting");
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("new", keep), |bench| {
            bench.iter(|| {
                let name = format!("new-{}", counter.fetch_add(1, Ordering::Relaxed));
                cache
                    .set_cache_item(APP, &name, &a, "json", Some(&project), Some(&user))
                    .expect("create")
            });
        });
        let flip = AtomicU64::new(0);
        let name = format!("replaced-{keep}");
        g.bench_function(BenchmarkId::new("replace", keep), |bench| {
            bench.iter(|| {
                let d = if flip.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
                    &a
                } else {
                    &b
                };
                cache
                    .set_cache_item(APP, &name, d, "json", Some(&project), Some(&user))
                    .expect("replace")
            });
        });

        // 1,000 items in one call: new names every call, or the same names with data
        // that changes every call.
        g.throughput(Throughput::Elements(BATCH as u64));
        let set_items = |names: &[String], docs: Vec<JsonText>| {
            let writes: Vec<CacheWrite<'_>> = names
                .iter()
                .zip(docs)
                .map(|(name, data)| CacheWrite {
                    app_name: APP,
                    name,
                    data,
                    project: Some(&project),
                    user: Some(&user),
                })
                .collect();
            cache.set_cache_items(&writes).expect("set_cache_items")
        };
        g.bench_function(BenchmarkId::new("batch_new", keep), |bench| {
            bench.iter_batched(
                || {
                    let r = counter.fetch_add(1, Ordering::Relaxed);
                    let names: Vec<String> = (0..BATCH).map(|i| format!("batch-{r}-{i}")).collect();
                    (names, docs[..BATCH].to_vec())
                },
                |(names, docs)| set_items(&names, docs),
                BatchSize::SmallInput,
            );
        });
        let names: Vec<String> = (0..BATCH).map(|i| format!("kept-{keep}-{i}")).collect();
        set_items(&names, docs[..BATCH].to_vec());
        let round = AtomicU64::new(1);
        g.bench_function(BenchmarkId::new("batch_replace", keep), |bench| {
            bench.iter_batched(
                || {
                    let r = round.fetch_add(1, Ordering::Relaxed) as usize % 2;
                    docs[r..BATCH + r].to_vec()
                },
                |docs| set_items(&names, docs),
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
    ItemVersion::set_keep(&mut cache.conn().expect("conn"), 5).expect("history setting");
}

/// Where criterion writes its results.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion")
    }
}

/// Seconds per iteration of one benchmark of this run (criterion's slope, else mean).
fn seconds(dir: &Path, id: &str, since: SystemTime) -> Option<f64> {
    let file = dir.join(id).join("new/estimates.json");
    if std::fs::metadata(&file).ok()?.modified().ok()? < since {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    let ns = v["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| v["mean"]["point_estimate"].as_f64())?;
    Some(ns / 1e9)
}

fn fmt_time(s: f64) -> String {
    if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// The on/off table for the backends that ran, or none when nothing was measured.
fn summary(dir: &Path, backends: &[&str], since: SystemTime) -> Option<String> {
    let mut md = String::from(
        "| backend | write | history off (0) | history on (5) | on / off | within 1.5× |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut any = false;
    for backend in backends {
        for (id, what) in [
            ("new", "`set_cache_item`, new item"),
            ("replace", "`set_cache_item`, changed data"),
            ("batch_new", "`set_cache_items` 1,000 new items"),
            ("batch_replace", "`set_cache_items` 1,000 changed items"),
        ] {
            let t = |keep: u32| seconds(dir, &format!("history_{backend}/{id}/{keep}"), since);
            let (Some(off), Some(on)) = (t(0), t(5)) else {
                continue;
            };
            any = true;
            let ratio = on / off;
            let _ = writeln!(
                md,
                "| {backend} | {what} | {} | {} | {ratio:.2}× | {} |",
                fmt_time(off),
                fmt_time(on),
                if ratio <= 1.5 { "yes" } else { "**no**" }
            );
        }
    }
    any.then_some(md)
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
    if std::env::args().any(|a| a == "--bench") {
        let Some(md) = summary(&dir, &backends, since) else {
            println!("\nNo benchmark was measured: summary not written.");
            return;
        };
        let file = dir.join("history_writes-summary.md");
        match std::fs::write(&file, &md) {
            Ok(()) => println!("\n{md}\nSummary written to {}", file.display()),
            Err(e) => eprintln!("cannot write {}: {e}", file.display()),
        }
    }
}
