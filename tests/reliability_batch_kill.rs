//! Killing the process during a `set_cache_items` batch leaves all of the batch or
//! none of it.
//!
//! The batch runs in a child process: this test binary re-executes itself with
//! `RELIABILITY_BATCH_CHILD` set, which makes [`child_writes_a_batch`] write one large
//! batch and exit. The parent first lets one batch finish to learn how long a batch
//! takes, then kills children with SIGKILL at several points of their batch and
//! counts the batch's rows afterwards.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use sodarcache::cache::CacheWrite;
use sodarcache::db::JsonText;
use sodarcache::db::models::Project;
use sodarcache::db::schema::cache_items;
use sodarcache::plugins::PluginRegistry;
use sodarcache::settings::Settings;

use common::fixtures as fx;

const CHILD_ENV: &str = "RELIABILITY_BATCH_CHILD";
const BATCH: usize = 20_000;
const APP: &str = "sodarcache";
/// The child prints this right before the batch starts.
const START: &str = "BATCH-START";
/// The child prints this once the batch returned.
const END: &str = "BATCH-END";

/// The child's side: only does something when started by the parent.
#[test]
fn child_writes_a_batch() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // an ordinary test run: nothing to do
    };
    let (url, rest) = spec.split_once('|').expect("url|project|prefix");
    let (project_id, prefix) = rest.split_once('|').expect("project|prefix");
    let settings = Settings {
        database_url: url.to_owned(),
        ..Settings::default()
    };
    let pool = sodarcache::db::open(url, &Default::default()).expect("open");
    let cache = PluginRegistry::builder()
        .build(pool.clone(), &settings)
        .cache()
        .expect("cache");
    let project = {
        let conn = &mut **pool.get().unwrap();
        Project::find_by_id(conn, project_id.parse().unwrap())
            .unwrap()
            .expect("project")
    };
    let names: Vec<String> = (0..BATCH).map(|i| format!("{prefix}{i:05}")).collect();
    let items: Vec<CacheWrite<'_>> = names
        .iter()
        .map(|name| CacheWrite {
            app_name: APP,
            name,
            data: JsonText::from_value(
                &serde_json::json!({ "name": name, "pad": "x".repeat(100) }),
            ),
            project: Some(&project),
            user: None,
        })
        .collect();
    println!("{START}");
    let n = cache.set_cache_items(&items).expect("batch");
    assert_eq!(n, BATCH);
    println!("{END}");
}

/// A child process writing a batch.
struct Child {
    process: std::process::Child,
    /// When it printed that the batch starts.
    started: Instant,
    /// Gets the instant it printed that the batch returned.
    ended: std::sync::mpsc::Receiver<Instant>,
}

/// Starts a child that writes a batch of `BATCH` items named `prefix…`; returns it
/// once it is about to start the batch.
fn spawn_child(url: &str, project: &Project, prefix: &str) -> Child {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args([
            "child_writes_a_batch",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, format!("{url}|{}|{prefix}", project.id))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("child printed the start marker")
            .expect("read");
        if line.contains(START) {
            break;
        }
    }
    let started = Instant::now();
    // Keep draining stdout so the child never blocks on a full pipe.
    let (tx, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains(END) {
                let _ = tx.send(Instant::now());
            }
        }
    });
    Child {
        process: child,
        started,
        ended,
    }
}

fn count(conn: &mut sodarcache::db::DbConn, prefix: &str) -> i64 {
    cache_items::table
        .filter(cache_items::name.like(format!("{prefix}%")))
        .count()
        .get_result(conn)
        .expect("count")
}

backend_test! {
    fn killing_the_process_mid_batch_leaves_all_or_none_of_it(db) {
        let pool = db.pool();
        let project = fx::project(&mut pool.get().unwrap(), "P", None, None);
        drop(pool);

        // A batch left to finish: learn how long one takes.
        let mut child = spawn_child(&db.url, &project, "full-");
        let ended = child.ended.recv_timeout(Duration::from_secs(15)).expect("the batch returned");
        let took = ended - child.started;
        assert!(child.process.wait().expect("wait").success(), "the child failed");
        let conn = &mut **db.pool().get().unwrap();
        assert_eq!(count(conn, "full-"), BATCH as i64);
        eprintln!("a batch of {BATCH} items takes {took:?} in the child");

        // Kill children at points spread over the batch and a little past it, and one
        // right after its batch returned.
        let mut outcomes = Vec::new();
        let fractions = [0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.5, f64::INFINITY];
        for (round, fraction) in fractions.into_iter().enumerate() {
            let prefix = format!("r{round}-");
            let mut child = spawn_child(&db.url, &project, &prefix);
            let committed = if fraction.is_finite() {
                let at = took.mul_f64(fraction);
                std::thread::sleep(at.saturating_sub(child.started.elapsed()));
                child.ended.try_recv().is_ok()
            } else {
                child.ended.recv_timeout(Duration::from_secs(15)).expect("the batch returned");
                true
            };
            child.process.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
            let status = child.process.wait().expect("reap");
            // Let the database notice the dead client (PostgreSQL rolls back).
            std::thread::sleep(Duration::from_millis(300));
            let n = count(conn, &prefix);
            assert!(n == 0 || n == BATCH as i64, "round {round}: {n} of {BATCH} items after a kill at {fraction} of a batch");
            if committed {
                assert_eq!(n, BATCH as i64, "round {round}: the batch returned, then its rows went");
            }
            outcomes.push((fraction, status.success(), committed, n));
        }
        eprintln!("(kill at fraction of a batch, child exited by itself, batch had returned, rows): {outcomes:?}");
        // The early kills really interrupted a batch.
        assert!(outcomes.iter().any(|&(_, exited, _, n)| !exited && n == 0), "no batch was interrupted: {outcomes:?}");
        // And the outcome is stable: nothing appears or disappears later.
        std::thread::sleep(Duration::from_millis(300));
        for (round, &(_, _, _, n)) in outcomes.iter().enumerate() {
            assert_eq!(count(conn, &format!("r{round}-")), n, "round {round} changed after the kill");
        }
    }
}
