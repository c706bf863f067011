//! A full disk (SQLite on a 3 MiB tmpfs, mounted by the test; skipped where the test may
//! not mount, unless `SODARCACHE_REQUIRE_MOUNT=1`): writes answer 503 with a JSON detail
//! saying the storage is full and write nothing; reads keep working; after space is
//! freed, writes work again.

mod common;
#[path = "common/process.rs"]
mod process;
#[path = "reliability/mod.rs"]
mod reliability;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sodarcache::db::{self, PoolOptions};

use process::ServerProcess;
use reliability::{APP, World, api_client, runtime};

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct Tiny {
    dir: tempfile::TempDir,
}

impl Tiny {
    fn mount(size: &str) -> Option<Tiny> {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tiny { dir }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                };
                if std::env::var("SODARCACHE_REQUIRE_MOUNT").is_ok_and(|v| v == "1") {
                    panic!("SODARCACHE_REQUIRE_MOUNT=1 but a tmpfs cannot be mounted: {why}");
                }
                eprintln!("skipped: cannot mount a tmpfs here ({why})");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tiny {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_makes_writes_a_503_saying_so_and_reads_keep_working() {
    let Some(tiny) = Tiny::mount("3m") else {
        return;
    };
    let file: PathBuf = tiny.path().join("cache.sqlite3");
    let url = format!("sqlite://{}", file.display());
    let pool = db::open(&url, &PoolOptions::default()).expect("open on the tmpfs");
    let world = World::create(&mut pool.get().unwrap());
    drop(pool);
    let workdir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_sodarcache")),
        workdir.path(),
        &[],
        &[("DATABASE_URL", url.as_str())],
    );
    let c = api_client(&world.token, Duration::from_secs(60));
    let project = world.project.uuid.0;
    let set = |name: &str| server.url(&format!("/cache/api/set/{project}/{APP}/{name}"));
    let get = |name: &str| server.url(&format!("/cache/api/retrieve/{project}/{APP}/{name}"));
    runtime().block_on(async {
        let small = serde_json::json!({ "data": { "kept": true } }).to_string();
        let resp = c
            .post(set("first"))
            .header("Content-Type", "application/json")
            .body(small.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        // 200 KiB items until the disk is full (3 MiB: at most 15 or so).
        let chunk = serde_json::json!({ "data": "x".repeat(200 * 1024) }).to_string();
        let mut refused = None;
        for i in 0..40 {
            let resp = c
                .post(set(&format!("fill{i}")))
                .header("Content-Type", "application/json")
                .body(chunk.clone())
                .send()
                .await
                .unwrap();
            match resp.status() {
                StatusCode::OK => continue,
                status => {
                    let body: Value = resp.json().await.expect("a JSON error");
                    refused = Some((i, status, body));
                    break;
                }
            }
        }
        let (i, status, body) = refused.expect("a 3 MiB disk never filled");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["detail"], sodarcache::error::STORAGE_FULL, "{body}");
        assert!(i > 0, "the first large write already failed");
        // Nothing half-written: the refused item does not exist.
        let missing = c.get(get(&format!("fill{i}"))).send().await.unwrap();
        assert_eq!(missing.status(), 404);
        // Reads keep working, the list and the health check too.
        let first = c.get(get("first")).send().await.unwrap();
        assert_eq!(first.status(), 200);
        let item: Value = first.json().await.unwrap();
        assert_eq!(item["data"], serde_json::json!({ "kept": true }));
        let written = c.get(get("fill0")).send().await.unwrap();
        assert_eq!(written.status(), 200);
        let list = c
            .get(server.url(&format!("/cache/api/list/{project}")))
            .send()
            .await
            .unwrap();
        assert_eq!(list.status(), 200);
        // Small writes are refused the same way while the disk stays full (or go
        // through into free pages): never a 500.
        let resp = c
            .post(set("small"))
            .header("Content-Type", "application/json")
            .body(small.clone())
            .send()
            .await
            .unwrap();
        assert!(
            matches!(resp.status().as_u16(), 200 | 503),
            "{}",
            resp.status()
        );
    });
}
