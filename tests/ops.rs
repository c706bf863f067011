//! Operating the binary: an installed copy serves everything from anywhere,
//! `--version`, JSON logs with request ids, `backup` while a server runs.

mod common;
#[path = "common/process.rs"]
mod process;

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Backend, TestDb};
use process::ServerProcess;

/// The built binary, copied into a fresh directory outside the source tree, as
/// `cargo install` would leave it.
fn installed_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(
        !dir.path().starts_with(env!("CARGO_MANIFEST_DIR")),
        "the copy must live outside the source tree"
    );
    let exe = dir.path().join("sodarcache");
    std::fs::copy(env!("CARGO_BIN_EXE_sodarcache"), &exe).expect("copy binary");
    // A child another test thread forks while the copy's write descriptor is open keeps
    // it until that child execs: running the copy meanwhile fails with "Text file busy"
    // (ETXTBSY). Wait for that to pass; afterwards nobody holds the descriptor.
    for _ in 0..100 {
        match Command::new(&exe).arg("--version").output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => break,
        }
    }
    (dir, exe)
}

/// The environment naming `db`: none on SQLite (the default file in the working
/// directory), `DATABASE_URL` on PostgreSQL.
fn db_env(db: &TestDb) -> Vec<(&'static str, String)> {
    match db.backend {
        Backend::Sqlite => Vec::new(),
        Backend::Postgres => vec![("DATABASE_URL", db.url.clone())],
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn csrf(html: &str) -> String {
    let input = html.find("name=\"csrf_token\"").expect("csrf input");
    let at = input + html[input..].find("value=\"").expect("value") + 7;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

/// Runs `f` on a fresh tokio runtime.
fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Runtime::new().expect("runtime").block_on(f)
}

/// Runs the installed copy once in `dir` with `env`; returns its standard output.
fn cli(exe: &Path, dir: &Path, env: &[(&str, &str)], args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run sodarcache");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Every `href="/..."` and `src="/..."` in `html`, HTML entities for `&` decoded.
fn local_links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"/", "src=\"/"] {
        for (i, _) in html.match_indices(attr) {
            let start = i + attr.len() - 1;
            let end = start + html[start..].find('"').unwrap();
            out.push(
                html[start..end]
                    .replace("&amp;", "&")
                    .replace("&#38;", "&")
                    .replace("&#x2F;", "/"),
            );
        }
    }
    out
}

backend_test! {
    fn installed_binary_serves_every_page_and_static_file_from_anywhere(db) {
        let (dir, exe) = installed_copy();
        let version = Command::new(&exe).arg("--version").output().expect("--version");
        assert_eq!(
            String::from_utf8_lossy(&version.stdout).trim(),
            format!("sodarcache {}", env!("CARGO_PKG_VERSION"))
        );
        let env = db_env(&db);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = ServerProcess::start(&exe, dir.path(), &["--demo"], &env);
        let admin = server.wait_for_line("  admin ");
        let password = admin.split_whitespace().nth(1).expect("demo password").to_owned();
        run(async {
        let c = client();
        let login = c.get(server.url("/login")).send().await.unwrap().text().await.unwrap();
        let resp = c
            .post(server.url("/login"))
            .form(&[("csrf_token", csrf(&login).as_str()), ("username", "admin"),
                    ("password", &password), ("next", "/cache/")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "log in as the demo admin");

        // Crawl every local link from the overview (query strings included: sorting,
        // filters, pages), checking that each page and each asset it names is served.
        let mut seen = BTreeSet::new();
        // The site-wide page is linked only when site-wide items exist; start there too.
        let mut queue = VecDeque::from(["/cache/".to_owned(), "/cache/site".to_owned()]);
        let mut assets = BTreeSet::new();
        while let Some(path) = queue.pop_front() {
            if !seen.insert(path.clone()) || seen.len() > 300 {
                continue;
            }
            let resp = c.get(server.url(&path)).send().await.unwrap();
            assert_eq!(resp.status(), 200, "GET {path}");
            let is_html = resp.headers()["content-type"].to_str().unwrap().starts_with("text/html");
            let body = resp.text().await.unwrap();
            if !is_html {
                continue;
            }
            for link in local_links(&body) {
                if link.starts_with("/static/") {
                    assets.insert(link);
                } else if !seen.contains(&link) {
                    queue.push_back(link);
                }
            }
        }
        for kind in ["/cache/project/", "/cache/item/", "/cache/jobs/", "/cache/site", "/delete", "/cache/schedules"] {
            assert!(seen.iter().any(|p| p.contains(kind)), "no {kind} page reached: {seen:?}");
        }
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        assert!(assets.len() >= 2, "pages name the stylesheet and the script: {assets:?}");
        for asset in &assets {
            let resp = c.get(server.url(asset)).send().await.unwrap();
            assert_eq!(resp.status(), 200, "GET {asset}");
            let etag = resp.headers()["etag"].clone();
            let served = resp.bytes().await.unwrap();
            let file = std::fs::read(source.join(&asset["/static/".len()..])).unwrap();
            assert_eq!(served.as_ref(), file.as_slice(), "{asset} is the source tree's file");
            let again = c.get(server.url(asset)).header("If-None-Match", etag).send().await.unwrap();
            assert_eq!(again.status(), 304, "{asset} revalidates by ETag");
        }
        assert_eq!(c.get(server.url("/static/nope.css")).send().await.unwrap().status(), 404);
        });
        if db.backend == Backend::Sqlite {
            assert!(dir.path().join("sodarcache.sqlite3").exists(), "the database is in the working directory");
        }
    }
}

#[test]
fn static_dir_setting_still_overrides_the_embedded_files() {
    let db = TestDb::sqlite();
    let (dir, exe) = installed_copy();
    let assets = tempfile::tempdir().unwrap();
    std::fs::write(assets.path().join("app.css"), "body { color: red }").unwrap();
    let url = db.url.clone();
    let static_dir = assets.path().to_str().unwrap().to_owned();
    let server = ServerProcess::start(
        &exe,
        dir.path(),
        &[],
        &[
            ("DATABASE_URL", &url),
            ("SODARCACHE_STATIC_DIR", &static_dir),
        ],
    );
    run(async {
        let c = client();
        let css = c.get(server.url("/static/app.css")).send().await.unwrap();
        assert_eq!(css.status(), 200);
        assert_eq!(css.text().await.unwrap(), "body { color: red }");
        assert_eq!(
            c.get(server.url("/static/app.js"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    });
}

backend_test! {
    fn json_logs_are_one_object_per_line_with_the_request_id(db) {
        let (dir, exe) = installed_copy();
        let env = db_env(&db);
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.push(("SODARCACHE_LOG_FORMAT", "json"));
        let category = cli(&exe, dir.path(), &env, &["project", "add", "Cat", "--category"], "");
        let project = cli(&exe, dir.path(), &env, &["project", "add", "Proj", "--parent", &category], "");
        cli(&exe, dir.path(), &env, &["user", "add", "root", "--superuser"], "s3cret-pass-word\n");
        let token = cli(&exe, dir.path(), &env, &["token", "create", "root"], "");
        let server = ServerProcess::start(&exe, dir.path(), &[], &env);
        // A REST write logs "Updated item ..." while the request runs.
        let resp = run(async {
            client()
                .post(server.url(&format!("/cache/api/set/{project}/example_project_app/logged")))
                .header("Authorization", format!("token {token}"))
                .json(&serde_json::json!({ "data": { "a": 1 } }))
                .send()
                .await
                .unwrap()
        });
        assert_eq!(resp.status(), 200);
        let line = server.wait_for_line("Updated item");
        let mut with_id = 0;
        for l in server.lines() {
            let v: serde_json::Value =
                serde_json::from_str(&l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}"));
            assert!(v["timestamp"].is_string() && v["level"].is_string(), "{l}");
            assert!(v["message"].is_string(), "{l}");
            if l == line {
                let spans = v["spans"].as_array().expect("span list");
                let id = spans.iter().find_map(|s| s["request_id"].as_str()).expect("request id");
                assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
                with_id += 1;
            }
        }
        assert_eq!(with_id, 1, "{line}");
    }
}

#[test]
fn an_unknown_log_format_is_a_one_line_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_sodarcache"))
        .arg("migrate")
        .env("SODARCACHE_LOG_FORMAT", "xml")
        .env("DATABASE_URL", "sqlite:///nonexistent-dir/never.sqlite3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("SODARCACHE_LOG_FORMAT: \"xml\" is not text or json"),
        "{err}"
    );
}

/// Runs `sodarcache backup PATH` against `url`.
fn backup(url: &str, path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sodarcache"))
        .arg("backup")
        .arg(path)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "info")
        .output()
        .unwrap()
}

#[test]
fn backup_copies_a_sqlite_database_while_a_server_writes_to_it() {
    use sodarcache::db::models::CacheItem;
    let db = TestDb::sqlite();
    let (dir, exe) = installed_copy();
    let server = ServerProcess::start(&exe, dir.path(), &["--demo"], &[("DATABASE_URL", &db.url)]);
    let pool = db.pool();
    let registry = db.registry(
        sodarcache::plugins::PluginRegistry::builder()
            .project_app(sodarcache::plugins::ExampleProjectApp),
    );
    let cache = registry.cache().unwrap();
    // A writer keeps writing through the backup; the copy holds a consistent prefix.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, cache) = (stop.clone(), cache.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                cache
                    .set_cache_item(
                        "example_project_app",
                        &format!("w{n}"),
                        &serde_json::json!({ "n": n, "pad": "x".repeat(2000) }),
                        "json",
                        None,
                        None,
                    )
                    .unwrap();
                n += 1;
            }
            n
        })
    };
    while CacheItem::find(
        &mut pool.get().unwrap(),
        sodarcache::db::Scope::Site,
        "example_project_app",
        "w20",
    )
    .unwrap()
    .is_none()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let target = dir.path().join("backup.sqlite3");
    let out = backup(&db.url, &target);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("Backed up the database to"), "{err}");
    drop(server);

    let copy = TestDb::sqlite();
    std::fs::copy(&target, copy.url.strip_prefix("sqlite://").unwrap()).unwrap();
    let mut conn = copy.pool().get().unwrap();
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let check: Check = diesel::sql_query("PRAGMA integrity_check")
        .get_result(&mut **conn)
        .unwrap();
    assert_eq!(check.integrity_check, "ok");
    let copied = (0..written)
        .take_while(|n| {
            CacheItem::find(
                &mut conn,
                sodarcache::db::Scope::Site,
                "example_project_app",
                &format!("w{n}"),
            )
            .unwrap()
            .is_some()
        })
        .count() as u64;
    assert!(
        copied > 20 && copied <= written,
        "copied {copied} of {written}"
    );
    let users = sodarcache::db::models::User::list(&mut conn).unwrap();
    assert_eq!(users.len(), 4, "the demo users are in the copy");
}

#[test]
fn backup_refuses_to_overwrite_and_points_postgresql_to_pg_dump() {
    let db = TestDb::sqlite();
    drop(db.pool()); // create and migrate it
    let existing = tempfile::NamedTempFile::new().unwrap();
    let out = backup(&db.url, existing.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already exists: name a new file"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let out = backup("postgres://nobody@127.0.0.1:1/none", Path::new("x.dump"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("use pg_dump"), "{err}");

    let missing_dir = tempfile::tempdir()
        .unwrap()
        .path()
        .join("no/such/dir/b.sqlite3");
    let out = backup(&db.url, &missing_dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot write"), "{err}");
}
