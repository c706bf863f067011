//! Browser tests: headless Chromium driven over WebDriver (fantoccini + chromedriver).
//!
//! They log in, open a project, run a sync and watch its job finish, delete one app's
//! items through the confirmation page, and check that a `<script>` inside cached JSON
//! stays text. Each main page is saved to `docs/screenshots/` for the README.
//!
//! Chromium and chromedriver come from Debian's packages (`scripts/install-deps`).
//! Without them the tests are skipped, unless `SODARCACHE_REQUIRE_BROWSER=1` (CI).

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestApp, TestDb, fixtures};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use sodarcache::db::models::{Project, Role};
use sodarcache::plugin::prelude::*;
use sodarcache::plugins::ExampleProjectApp;

/// A second app, so one app's items can be deleted while the other's stay.
struct NotesApp;

impl ProjectAppPlugin for NotesApp {
    fn name(&self) -> &'static str {
        "notes_app"
    }

    fn title(&self) -> &'static str {
        "Notes"
    }

    fn sync_project(&self, ctx: &SyncContext, project: &ProjectView) -> SyncResult {
        for i in 0..3 {
            ctx.set(
                &format!("note_{i}"),
                &json!({"n": i, "text": format!("Note {i} of {}", project.title)}),
            )?;
        }
        Ok(())
    }
}

struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts chromedriver, or returns `None` (skip) when Chromium is not installed.
fn start_driver() -> Option<Driver> {
    start_driver_in(None)
}

/// [`start_driver`] with the browser in time zone `tz` (`TZ`, inherited by Chromium).
fn start_driver_in(tz: Option<&str>) -> Option<Driver> {
    let have =
        Path::new("/usr/bin/chromedriver").exists() && Path::new("/usr/bin/chromium").exists();
    if !have {
        if std::env::var("SODARCACHE_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!(
                "SODARCACHE_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed (run scripts/install-deps)"
            );
        }
        eprintln!("skipped: chromium and chromedriver are not installed");
        return None;
    }
    let port = free_port();
    let mut command = Command::new("/usr/bin/chromedriver");
    if let Some(tz) = tz {
        command.env("TZ", tz);
    }
    let child = command
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Driver {
        child,
        port,
        _profile: tempfile::tempdir().expect("profile dir"),
    })
}

async fn connect(driver: &Driver) -> Client {
    connect_with(driver, &[]).await
}

/// A browser session with extra Chromium flags (`--force-dark-mode` for dark mode).
async fn connect_with(driver: &Driver, extra: &[&str]) -> Client {
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect();
    args.push(format!(
        "--user-data-dir={}",
        driver._profile.path().display()
    ));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": "/usr/bin/chromium", "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("connect to chromedriver")
}

fn screenshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::create_dir_all(screenshots_dir()).expect("screenshots dir");
    std::fs::write(screenshots_dir().join(format!("{name}.png")), png).expect("write screenshot");
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .expect(css)
        .text()
        .await
        .expect("text")
}

/// Waits (bounded) until the browser has navigated to a page whose path satisfies
/// `wanted`: a click returns before the navigation it starts has finished.
async fn wait_for_path(c: &Client, what: &str, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let path = c.current_url().await.expect("url").path().to_owned();
        let ready = c
            .execute("return document.readyState;", vec![])
            .await
            .map(|v| v == json!("complete"))
            .unwrap_or(false);
        if ready && wanted(&path) {
            return path;
        }
        if Instant::now() > deadline {
            let text = c.find(Locator::Css("body")).await.ok();
            let text = match text {
                Some(body) => body.text().await.unwrap_or_default(),
                None => String::new(),
            };
            panic!("expected {what}, still at {path}: {text}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn log_in(c: &Client, app: &TestApp, username: &str) {
    c.goto(&app.url("/cache/")).await.expect("open");
    assert!(
        c.current_url()
            .await
            .expect("url")
            .path()
            .starts_with("/login"),
        "anonymous visit goes to login"
    );
    c.find(Locator::Id("username"))
        .await
        .expect("username")
        .send_keys(username)
        .await
        .expect("type");
    c.find(Locator::Id("password"))
        .await
        .expect("password")
        .send_keys(fixtures::PASSWORD)
        .await
        .expect("type");
    c.find(Locator::Css("form.stack button[type=submit]"))
        .await
        .expect("submit")
        .click()
        .await
        .expect("click");
    wait_for_path(c, "the overview after logging in", |p| p == "/cache/").await;
}

struct Site {
    app: TestApp,
    project: Project,
    _db: TestDb,
}

fn site() -> Site {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(
        &db,
        PluginRegistry::builder()
            .project_app(ExampleProjectApp)
            .project_app(NotesApp),
        |_| {},
    );
    let mut conn = app.conn();
    let category = fixtures::category(&mut conn, "Research", None);
    let project = fixtures::project(&mut conn, "Genome Atlas", Some(&category), None);
    let alice = fixtures::user(&mut conn, "alice", false);
    let bob = fixtures::user(&mut conn, "bob", false);
    fixtures::role(&mut conn, &project, &alice, Role::Owner);
    fixtures::role(&mut conn, &project, &bob, Role::Contributor);
    Site {
        app,
        project,
        _db: db,
    }
}

fn run<F: std::future::Future<Output = ()>>(f: F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f);
}

#[test]
fn owner_logs_in_syncs_a_project_and_watches_the_job_finish() {
    let Some(driver) = start_driver() else { return };
    let site = site();
    run(async {
        let c = connect(&driver).await;
        c.goto(&site.app.url("/login")).await.expect("login page");
        screenshot(&c, "login").await;
        log_in(&c, &site.app, "alice").await;
        let overview = text_of(&c, "#projects").await;
        assert!(
            overview.contains("Genome Atlas"),
            "the owner's project is listed: {overview}"
        );

        c.find(Locator::LinkText("Genome Atlas"))
            .await
            .expect("project link")
            .click()
            .await
            .expect("click");
        assert!(
            text_of(&c, "main")
                .await
                .contains("Nothing is cached here yet")
        );
        c.find(Locator::Id("sync-project"))
            .await
            .expect("sync button")
            .click()
            .await
            .expect("click");
        wait_for_path(&c, "the job page", |p| p.starts_with("/cache/jobs/")).await;

        // The page refreshes itself while the job runs; wait for it to say done.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // The element can vanish for a moment while the page reloads itself.
            let status = match c.find(Locator::Css("#job-status")).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if status == "done" {
                break;
            }
            assert_ne!(status, "failed", "the sync job failed");
            assert!(
                Instant::now() < deadline,
                "the job did not finish: {status}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let runs = text_of(&c, "#plugin-runs").await;
        assert!(
            runs.contains("example_project_app") && runs.contains("notes_app"),
            "{runs}"
        );
        screenshot(&c, "job").await;

        c.goto(
            &site
                .app
                .url(&format!("/cache/project/{}", site.project.uuid)),
        )
        .await
        .expect("project");
        let items = text_of(&c, "#items").await;
        assert!(
            items.contains("project_summary") && items.contains("note_2"),
            "{items}"
        );
        screenshot(&c, "project").await;
        // On a phone-sized window the table scrolls inside its box, the page does not.
        c.set_window_size(390, 844).await.expect("resize");
        let page_width = c
            .execute("return document.documentElement.scrollWidth;", vec![])
            .await
            .expect("width");
        let view_width = c
            .execute("return document.documentElement.clientWidth;", vec![])
            .await
            .expect("width");
        assert_eq!(page_width, view_width, "no sideways scrolling on a phone");
        screenshot(&c, "project_phone").await;
        c.set_window_size(1280, 900).await.expect("resize");
        c.goto(&site.app.url("/cache/")).await.expect("overview");
        screenshot(&c, "overview").await;
        c.close().await.expect("close");
    });
}

#[test]
fn owner_deletes_one_apps_items_through_the_confirmation_page() {
    let Some(driver) = start_driver() else { return };
    let site = site();
    site.app
        .registry
        .update_cache(None, Some(&site.project), None)
        .expect("sync");
    run(async {
        let c = connect(&driver).await;
        log_in(&c, &site.app, "alice").await;
        c.goto(
            &site
                .app
                .url(&format!("/cache/project/{}", site.project.uuid)),
        )
        .await
        .expect("project");
        c.find(Locator::Id("delete-project"))
            .await
            .expect("delete link")
            .click()
            .await
            .expect("click");
        let counts = text_of(&c, "#delete-counts").await;
        assert!(
            counts.contains("notes_app") && counts.contains('3'),
            "{counts}"
        );
        screenshot(&c, "confirm_delete").await;
        c.find(Locator::Id("delete-app"))
            .await
            .expect("app select")
            .select_by_value("notes_app")
            .await
            .expect("select");
        c.find(Locator::Id("confirm-delete"))
            .await
            .expect("confirm")
            .click()
            .await
            .expect("click");

        let project_path = format!("/cache/project/{}", site.project.uuid);
        wait_for_path(&c, "the project page", |p| p == project_path).await;
        assert!(
            text_of(&c, ".flash")
                .await
                .contains("Deleted 3 cached items of app \"notes_app\".")
        );
        let items = text_of(&c, "#items").await;
        assert!(
            items.contains("project_summary"),
            "the other app's item stays: {items}"
        );
        assert!(
            !items.contains("note_"),
            "notes_app items are gone: {items}"
        );
        assert!(
            text_of(&c, "#activity")
                .await
                .contains("Deleted 3 cached data items of app \"notes_app\"")
        );
        c.close().await.expect("close");
    });
}

#[test]
fn script_inside_cached_json_is_shown_as_text_and_never_runs() {
    let Some(driver) = start_driver() else { return };
    let site = site();
    let cache = site.app.registry.cache().expect("backend enabled");
    let item = cache
        .set_cache_item(
            "notes_app",
            "hostile",
            &json!({"html": "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">", "nested": {"list": [1, "two", null, true]}}),
            "json",
            Some(&site.project),
            None,
        )
        .expect("set item");
    run(async {
        let c = connect(&driver).await;
        log_in(&c, &site.app, "bob").await;
        c.goto(&site.app.url(&format!("/cache/item/{}", item.uuid)))
            .await
            .expect("item page");
        let tree = text_of(&c, "#json-tree").await;
        assert!(
            tree.contains("<script>window.__pwned = 1</script>"),
            "shown as text: {tree}"
        );
        let pwned = c
            .execute("return window.__pwned === undefined;", vec![])
            .await
            .expect("script");
        assert_eq!(pwned, json!(true), "the cached script must not run");
        assert!(text_of(&c, "#curl").await.contains("version=2.0"));
        screenshot(&c, "item").await;
        c.close().await.expect("close");
    });
}

/// How much wider than the window a page is (0 when it fits), and what sticks out.
async fn overflow(c: &Client) -> (i64, String) {
    let v = c
        .execute(
            "const d = document.documentElement; const w = d.clientWidth;
             const wide = [...document.querySelectorAll('body *')]
               .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap, .json'))
               .slice(0, 3).map(e => e.tagName + '.' + e.className).join(', ');
             return [d.scrollWidth - w, wide];",
            vec![],
        )
        .await
        .expect("measure");
    (
        v[0].as_i64().expect("width"),
        v[1].as_str().unwrap_or("").to_owned(),
    )
}

/// Sizes, counts and times that wrap onto a second line.
async fn wrapped_values(c: &Client) -> Vec<String> {
    let v = c
        .execute(
            "const out = [];
             for (const e of document.querySelectorAll('time, td.num, .status')) {
               const r = document.createRange(); r.selectNodeContents(e);
               const lines = new Set([...r.getClientRects()].map(x => Math.round(x.top)));
               if (lines.size > 1) out.push(e.textContent);
             }
             return out;",
            vec![],
        )
        .await
        .expect("measure");
    serde_json::from_value(v).expect("list")
}

#[test]
fn no_page_is_wider_than_the_window_with_255_character_names() {
    let Some(driver) = start_driver() else { return };
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db, common::scale::server_plugins(), |_| {});
    let scale = common::scale::build(&db, &app);
    let job = common::scale::newest_job(&mut app.conn());
    // A second version of the long item: its page then shows a diff with a long path
    // and long old and new values.
    let long_key = common::scale::long_name("key_");
    app.registry
        .cache()
        .expect("backend")
        .set_cache_item(
            "samplesheets",
            &common::scale::long_name("Sheet_"),
            &json!({ long_key.clone(): { long_key.clone(): "x".repeat(600) }, "n": [1, 2, 3] }),
            "json",
            Some(&scale.long),
            None,
        )
        .expect("second version");
    let long = format!("/cache/project/{}", scale.long.uuid);
    let big = format!("/cache/project/{}", scale.big.uuid);
    let pages = [
        "/cache/".to_owned(),
        "/cache/?sort=items&dir=desc".to_owned(),
        long.clone(),
        format!("{long}?sort=name"),
        format!("{big}?sort=name&dir=desc"),
        format!("/cache/item/{}", scale.long_item),
        format!("/cache/item/{}?from=1&to=2", scale.long_item),
        format!("/cache/jobs/{job}"),
        "/cache/jobs".to_owned(),
        format!("{long}/delete"),
        "/cache/nope".to_owned(),
    ];
    run(async {
        let c = connect(&driver).await;
        log_in(&c, &app, "root").await;
        for (w, h) in [(390, 844), (1280, 900), (1920, 1080)] {
            c.set_window_size(w, h).await.expect("resize");
            for path in &pages {
                c.goto(&app.url(path)).await.expect("open");
                let (extra, culprits) = overflow(&c).await;
                assert!(
                    extra <= 0,
                    "{path} at {w} px is {extra} px too wide: {culprits}"
                );
                if w == 390 && path.ends_with("?from=1&to=2") {
                    c.goto(&app.url(&format!("{path}#changes")))
                        .await
                        .expect("open");
                    screenshot(&c, "item_diff_phone").await;
                }
                let wrapped = wrapped_values(&c).await;
                assert!(
                    wrapped.is_empty(),
                    "{path} at {w} px: {} values wrap, first {:?}",
                    wrapped.len(),
                    &wrapped[..wrapped.len().min(5)]
                );
                if w >= 1280 {
                    // On a desktop every column is in view without scrolling the table.
                    let hidden = c
                        .execute("return [...document.querySelectorAll('.table-wrap')].filter(e => e.scrollWidth > e.clientWidth + 1).length;", vec![])
                        .await
                        .expect("tables");
                    assert_eq!(
                        hidden,
                        json!(0),
                        "{path} at {w} px: a table scrolls sideways"
                    );
                }
            }
            // Side by side, the sync history and the activity share the width fairly.
            if w >= 1280 {
                c.goto(&app.url(&long)).await.expect("open");
                let widths = c
                    .execute(
                        "return [...document.querySelectorAll('.two-col > .card')].map(e => e.getBoundingClientRect().width);",
                        vec![],
                    )
                    .await
                    .expect("widths");
                let widths: Vec<f64> = serde_json::from_value(widths).expect("numbers");
                assert_eq!(widths.len(), 2, "{widths:?}");
                assert!(widths[0] > 0.4 * (widths[0] + widths[1]), "{widths:?}");
            }
        }
        c.close().await.expect("close");
    });
}

/// Polls a script in the page until it returns `wanted` (bounded).
async fn wait_for_script(c: &Client, what: &str, script: &str, wanted: serde_json::Value) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = c.execute(script, vec![]).await.expect("script");
        if got == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: got {got}, wanted {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_json_filter_box_shows_the_paths_that_match_and_expand_collapse_all_work() {
    let Some(driver) = start_driver() else { return };
    let site = site();
    let cache = site.app.registry.cache().expect("backend enabled");
    let item = cache
        .set_cache_item(
            "notes_app",
            "filterable",
            &json!({
                "samples": [
                    {"id": "S1", "qc": {"status": "passed"}},
                    {"id": "S2", "qc": {"status": "failed", "reason": "Needle in the haystack"}},
                ],
                "other": {"deep": {"deeper": {"needle_key": 7}}},
                "unrelated": "nothing here",
            }),
            "json",
            Some(&site.project),
            None,
        )
        .expect("set item");
    run(async {
        let c = connect(&driver).await;
        log_in(&c, &site.app, "bob").await;
        c.goto(&site.app.url(&format!("/cache/item/{}", item.uuid)))
            .await
            .expect("item page");
        wait_for_script(
            &c,
            "the script shows the tools",
            "return !document.getElementById('json-tools').hidden;",
            json!(true),
        )
        .await;
        // Visible entries' own text (key and value), in order.
        let visible = "return [...document.querySelectorAll('#json-tree li')]
            .filter(li => li.offsetParent !== null)
            .map(li => (li.querySelector(':scope > .key, :scope > details > summary > .key') || {}).textContent || '');";
        c.find(Locator::Id("json-filter"))
            .await
            .expect("filter")
            .send_keys("NEEDLE")
            .await
            .expect("type");
        wait_for_script(
            &c,
            "two matches",
            "return document.getElementById('json-matches').textContent;",
            json!("2 matches."),
        )
        .await;
        let keys: Vec<String> =
            serde_json::from_value(c.execute(visible, vec![]).await.expect("keys")).expect("list");
        assert_eq!(
            keys,
            [
                "",
                "other",
                "deep",
                "deeper",
                "needle_key",
                "samples",
                "1",
                "qc",
                "reason"
            ],
            "the matches and the paths down to them (from the root), nothing else"
        );
        screenshot(&c, "item_filter").await;
        // Clearing the filter shows everything again.
        c.execute(
            "const f = document.getElementById('json-filter'); f.value = ''; f.dispatchEvent(new Event('input'));",
            vec![],
        )
        .await
        .expect("clear");
        wait_for_script(
            &c,
            "everything shown again",
            "return [...document.querySelectorAll('#json-tree li')].some(li => li.hidden);",
            json!(false),
        )
        .await;
        let open_count = "return [...document.querySelectorAll('#json-tree details')].filter(d => d.open).length + '/' + document.querySelectorAll('#json-tree details').length;";
        c.find(Locator::Id("json-expand"))
            .await
            .expect("expand")
            .click()
            .await
            .expect("click");
        wait_for_script(&c, "all open", open_count, json!("9/9")).await;
        c.find(Locator::Id("json-collapse"))
            .await
            .expect("collapse")
            .click()
            .await
            .expect("click");
        wait_for_script(&c, "all closed", open_count, json!("0/9")).await;
        c.close().await.expect("close");
    });
}

/// axe-core's browser build, installed from npm by `scripts/install-deps` (pinned in
/// `tests/a11y/package-lock.json`).
fn axe_source() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/a11y/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/install-deps, which installs axe-core from npm)",
            path.display()
        )
    })
}

/// axe-core's violations of impact "serious" or "critical" on the current page, one
/// line each with the first elements concerned.
async fn serious_violations(c: &Client, axe: &str) -> Vec<String> {
    c.execute(axe, vec![]).await.expect("inject axe-core");
    let v = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' -- ' +
                   v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' [' + (n.failureSummary || '').replace(/\\s+/g, ' ') + ']').join(' | '))))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("run axe-core");
    serde_json::from_value(v).expect("list of violations")
}

#[test]
fn axe_core_finds_no_serious_violation_on_any_page_at_phone_and_desktop_width_light_and_dark() {
    let Some(driver) = start_driver() else { return };
    let axe = axe_source();
    let db = TestDb::sqlite();
    let app = TestApp::spawn(&db, common::scale::server_plugins(), |_| {});
    let scale = common::scale::build(&db, &app);
    let job = common::scale::newest_job(&mut app.conn());
    let long = format!("/cache/project/{}", scale.long.uuid);
    let big = format!("/cache/project/{}", scale.big.uuid);
    let pages = [
        "/cache/".to_owned(),
        "/cache/?sort=items&dir=desc&page=2".to_owned(),
        "/cache/?status=failed".to_owned(),
        "/cache/?q=zzz-no-such-project".to_owned(),
        long.clone(),
        format!("{big}?sort=name&dir=desc"),
        format!("{big}?q=item&app=irods_stats"),
        format!("{big}?page=999"),
        "/cache/site".to_owned(),
        format!("/cache/item/{}", scale.long_item),
        format!("/cache/item/{}", scale.large_item),
        format!("/cache/jobs/{job}"),
        "/cache/jobs".to_owned(),
        "/cache/jobs?status=failed".to_owned(),
        format!("{long}/delete"),
        "/cache/nope".to_owned(),
        "/logout".to_owned(),
    ];
    let mut found = Vec::new();
    run(async {
        for dark in [false, true] {
            // A driver (and browser profile) of its own per scheme: no cookie carried over.
            let dark_driver;
            let c = if dark {
                dark_driver = start_driver().expect("chromedriver");
                connect_with(
                    &dark_driver,
                    &[
                        "--force-dark-mode",
                        "--blink-settings=preferredColorScheme=0",
                    ],
                )
                .await
            } else {
                connect(&driver).await
            };
            // The login page, before logging in.
            c.goto(&app.url("/login")).await.expect("login page");
            for v in serious_violations(&c, &axe).await {
                found.push(format!("/login (dark: {dark}): {v}"));
            }
            log_in(&c, &app, "root").await;
            if dark {
                let scheme = c
                    .execute(
                        "return matchMedia('(prefers-color-scheme: dark)').matches;",
                        vec![],
                    )
                    .await
                    .expect("scheme");
                assert_eq!(scheme, json!(true), "the dark session prefers dark");
            }
            for (w, h) in [(390, 844), (1280, 900)] {
                c.set_window_size(w, h).await.expect("resize");
                for path in &pages {
                    c.goto(&app.url(path)).await.expect("open");
                    for v in serious_violations(&c, &axe).await {
                        found.push(format!("{path} at {w} px (dark: {dark}): {v}"));
                    }
                }
                // The bulk confirmation page (a POST from the project page's checkboxes).
                c.goto(&app.url(&long)).await.expect("project");
                c.execute(
                    "for (const b of [...document.querySelectorAll('input[name=item]')].slice(0, 2)) b.checked = true;
                     document.getElementById('bulk-form').submit();",
                    vec![],
                )
                .await
                .expect("submit");
                wait_for_path(&c, "the bulk confirmation page", |p| p.ends_with("/delete")).await;
                c.find(Locator::Id("confirm-bulk"))
                    .await
                    .expect("confirmation page");
                for v in serious_violations(&c, &axe).await {
                    found.push(format!("bulk confirmation at {w} px (dark: {dark}): {v}"));
                }
            }
            if dark {
                c.set_window_size(1280, 900).await.expect("resize");
                c.goto(&app.url(&big)).await.expect("project");
                screenshot(&c, "project_dark").await;
            }
            c.close().await.expect("close");
        }
    });
    assert!(
        found.is_empty(),
        "{} violations:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn owner_bulk_deletes_selected_items_and_all_matching_items_through_the_confirmation_page() {
    let Some(driver) = start_driver() else { return };
    let site = site();
    site.app
        .registry
        .update_cache(None, Some(&site.project), None)
        .expect("sync");
    let project_path = format!("/cache/project/{}", site.project.uuid);
    run(async {
        let c = connect(&driver).await;
        log_in(&c, &site.app, "alice").await;
        c.goto(&site.app.url(&project_path)).await.expect("project");
        // Tick two notes by their labels, as a person would.
        for name in ["note_0", "note_1"] {
            c.find(Locator::Css(&format!(
                "input[aria-label='Select notes_app: {name}']"
            )))
            .await
            .expect("checkbox")
            .click()
            .await
            .expect("tick");
        }
        assert_eq!(text_of(&c, "#delete-selected").await, "Delete 2 selected…");
        c.find(Locator::Id("delete-selected"))
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
        wait_for_path(&c, "the confirmation page", |p| p.ends_with("/delete")).await;
        assert!(
            text_of(&c, "#confirm-bulk h1")
                .await
                .contains("Delete 2 items?")
        );
        let names = text_of(&c, "#delete-names").await;
        assert!(
            names.contains("note_0") && names.contains("note_1") && !names.contains("note_2"),
            "{names}"
        );
        screenshot(&c, "confirm_bulk").await;
        c.find(Locator::Id("confirm-delete"))
            .await
            .expect("confirm")
            .click()
            .await
            .expect("click");
        wait_for_path(&c, "the project page", |p| p == project_path).await;
        let items = text_of(&c, "#items").await;
        assert!(
            !items.contains("note_0") && !items.contains("note_1"),
            "{items}"
        );
        assert!(
            items.contains("note_2") && items.contains("project_summary"),
            "{items}"
        );

        // Everything matching a search: the one note left, not the summary.
        c.goto(&site.app.url(&format!("{project_path}?q=NOTE")))
            .await
            .expect("search");
        assert_eq!(
            text_of(&c, "#delete-matching").await,
            "Delete all 1 matching…"
        );
        c.find(Locator::Id("delete-matching"))
            .await
            .expect("button")
            .click()
            .await
            .expect("click");
        wait_for_path(&c, "the confirmation page", |p| p.ends_with("/delete")).await;
        assert!(
            text_of(&c, "#confirm-bulk h1")
                .await
                .contains("Delete 1 item?")
        );
        assert!(text_of(&c, "#delete-names").await.contains("note_2"));
        c.find(Locator::Id("confirm-delete"))
            .await
            .expect("confirm")
            .click()
            .await
            .expect("click");
        wait_for_path(&c, "the project page", |p| p == project_path).await;
        let items = text_of(&c, "#items").await;
        assert!(!items.contains("note_"), "{items}");
        assert!(items.contains("project_summary"), "{items}");
        let activity = text_of(&c, "#activity").await;
        assert!(
            activity.contains("Deleted 2 ") && activity.contains("Deleted 1 "),
            "one entry per deletion, with the count: {activity}"
        );
        c.close().await.expect("close");
    });
}

#[test]
fn times_are_local_with_javascript_and_relative_times_update_while_the_page_is_open() {
    let Some(driver) = start_driver_in(Some("Asia/Tokyo")) else {
        return;
    };
    let site = site();
    let cache = site.app.registry.cache().expect("backend enabled");
    let item = cache
        .set_cache_item(
            "notes_app",
            "fresh",
            &json!({"a": 1}),
            "json",
            Some(&site.project),
            None,
        )
        .expect("set item");
    run(async {
        let c = connect(&driver).await;
        log_in(&c, &site.app, "bob").await;
        c.goto(&site.app.url(&format!("/cache/item/{}", item.uuid)))
            .await
            .expect("item page");
        // The server writes UTC; the script shows the browser's own time zone (UTC+9).
        let exact = text_of(&c, "time.exact").await;
        assert!(exact.contains("GMT+9") && !exact.contains("UTC"), "{exact}");
        let title = c
            .find(Locator::Css("time[tabindex]"))
            .await
            .expect("relative time")
            .attr("title")
            .await
            .expect("title")
            .unwrap_or_default();
        assert!(
            title.contains("GMT+9"),
            "the hover and focus text is local too: {title}"
        );
        // "just now" turns into "N seconds ago" while the page stays open.
        assert_eq!(text_of(&c, "time[tabindex]").await, "just now");
        wait_for_script(
            &c,
            "the relative time updates",
            "return document.querySelector('time[tabindex]').textContent.endsWith('seconds ago');",
            json!(true),
        )
        .await;
        c.close().await.expect("close");
    });
}

#[test]
fn the_copy_button_selects_the_text_when_there_is_no_clipboard_api() {
    let Some(driver) = start_driver() else { return };
    let site = site();
    let cache = site.app.registry.cache().expect("backend enabled");
    let item = cache
        .set_cache_item(
            "notes_app",
            "copy me",
            &json!({"a": 1}),
            "json",
            Some(&site.project),
            None,
        )
        .expect("set item");
    run(async {
        let c = connect(&driver).await;
        log_in(&c, &site.app, "bob").await;
        c.goto(&site.app.url(&format!("/cache/item/{}", item.uuid)))
            .await
            .expect("item page");
        // As on plain HTTP or in an old browser: no navigator.clipboard.
        c.execute("Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });", vec![])
            .await
            .expect("remove the clipboard API");
        c.find(Locator::Css("button[data-copy=curl]"))
            .await
            .expect("copy button")
            .click()
            .await
            .expect("click");
        let selected = c
            .execute("return window.getSelection().toString();", vec![])
            .await
            .expect("selection");
        assert_eq!(
            selected,
            json!(text_of(&c, "#curl").await),
            "the curl line is selected"
        );
        assert_eq!(
            text_of(&c, "button[data-copy=curl]").await,
            "Selected: press Ctrl+C"
        );
        c.close().await.expect("close");
    });
}

#[test]
fn buttons_links_and_fields_show_a_strong_focus_ring_and_the_skip_link_comes_first() {
    let Some(driver) = start_driver() else { return };
    let site = site();
    site.app
        .registry
        .update_cache(None, Some(&site.project), None)
        .expect("sync");
    run(async {
        let c = connect(&driver).await;
        log_in(&c, &site.app, "alice").await;
        c.goto(
            &site
                .app
                .url(&format!("/cache/project/{}", site.project.uuid)),
        )
        .await
        .expect("project");
        // The first Tab lands on the skip link, which is then in view.
        c.execute("document.activeElement.blur();", vec![])
            .await
            .expect("blur");
        c.active_element()
            .await
            .expect("body")
            .send_keys("\u{e004}")
            .await
            .expect("tab");
        let skip = c
            .execute(
                "const a = document.activeElement; return [a.className, a.getBoundingClientRect().top >= 0];",
                vec![],
            )
            .await
            .expect("skip link");
        assert_eq!(
            skip,
            json!(["skip", true]),
            "the skip link is first and visible on focus"
        );
        for css in [
            "#sync-project",
            "#delete-project",
            "input[type=search]",
            "#items a",
            "nav a",
            "button.link",
        ] {
            let ring = c
                .execute(
                    "const e = document.querySelector(arguments[0]); e.focus();
                     const s = getComputedStyle(e);
                     return [e.matches(':focus-visible'), s.outlineStyle, parseFloat(s.outlineWidth)];",
                    vec![json!(css)],
                )
                .await
                .expect("focus");
            assert_eq!(ring[0], json!(true), "{css}: {ring}");
            assert_eq!(ring[1], json!("solid"), "{css}: {ring}");
            assert!(
                ring[2].as_f64().unwrap_or(0.0) >= 3.0,
                "{css}: a ring of 3 px: {ring}"
            );
        }
        c.close().await.expect("close");
    });
}

/// Finished jobs of `project` over the last days, for the dashboards' sync chart.
fn finished_jobs(app: &TestApp, project: &Project) {
    use diesel::prelude::*;
    use sodarcache::db::models::{JobStatus, Origin};
    use sodarcache::db::schema::sync_jobs;
    let now = sodarcache::db::now();
    for day in 0..14_i64 {
        let statuses: &[JobStatus] = match day % 5 {
            0 => &[JobStatus::Done, JobStatus::Done, JobStatus::Done],
            1 => &[JobStatus::Done, JobStatus::Failed],
            3 => &[JobStatus::Done, JobStatus::Cancelled],
            _ => &[JobStatus::Done],
        };
        for status in statuses {
            let finished = now - chrono::Duration::days(day);
            diesel::insert_into(sync_jobs::table)
                .values((
                    sync_jobs::uuid.eq(sodarcache::db::DbUuid(uuid::Uuid::new_v4())),
                    sync_jobs::project_id.eq(project.id),
                    sync_jobs::origin.eq(Origin::Scheduled),
                    sync_jobs::status.eq(*status),
                    sync_jobs::created.eq(finished - chrono::Duration::seconds(9)),
                    sync_jobs::started.eq(finished - chrono::Duration::seconds(8)),
                    sync_jobs::finished.eq(finished),
                ))
                .execute(&mut **app.conn())
                .expect("insert job");
        }
    }
}

#[test]
fn the_dashboard_svgs_render_inside_the_window_at_phone_and_desktop_width_light_and_dark() {
    let Some(driver) = start_driver() else { return };
    let axe = axe_source();
    let site = site();
    let app = &site.app;
    for o in app
        .registry
        .update_cache(None, Some(&site.project), None)
        .expect("update_cache")
    {
        assert!(o.error.is_none(), "{o:?}");
    }
    finished_jobs(app, &site.project);
    let pages = [
        "/cache/".to_owned(),
        format!("/cache/project/{}", site.project.uuid),
    ];
    let measure = "const vw = document.documentElement.clientWidth;
        const svgs = [...document.querySelectorAll('#dashboard svg')].map(s => {
          const r = s.getBoundingClientRect();
          return [r.width, r.height, r.left, r.right];
        });
        const text = document.querySelector('#dashboard svg text');
        return { vw, page: document.documentElement.scrollWidth, svgs,
                 fill: getComputedStyle(text).fill,
                 bar: getComputedStyle(document.querySelector('#dashboard .dash-done')).fill };";
    let mut found = Vec::new();
    run(async {
        for dark in [false, true] {
            let dark_driver;
            let c = if dark {
                dark_driver = start_driver().expect("chromedriver");
                connect_with(
                    &dark_driver,
                    &[
                        "--force-dark-mode",
                        "--blink-settings=preferredColorScheme=0",
                    ],
                )
                .await
            } else {
                connect(&driver).await
            };
            log_in(&c, app, "alice").await;
            for (w, h, device) in [(390, 844, "phone"), (1280, 900, "desktop")] {
                c.set_window_size(w, h).await.expect("resize");
                for path in &pages {
                    c.goto(&app.url(path)).await.expect("open");
                    let m = c.execute(measure, vec![]).await.expect("measure");
                    let vw = m["vw"].as_f64().expect("viewport width");
                    let what = format!("{path} at {w} px (dark: {dark})");
                    assert!(
                        m["page"].as_f64().unwrap() <= vw,
                        "{what}: no sideways scrolling: {m}"
                    );
                    let svgs = m["svgs"].as_array().expect("svgs");
                    assert_eq!(svgs.len(), 3, "{what}: three charts: {m}");
                    for s in svgs {
                        let [width, height, left, right] =
                            [0, 1, 2, 3].map(|i| s[i].as_f64().expect("number"));
                        assert!(width > 100.0 && height > 20.0, "{what}: drawn: {m}");
                        assert!(left >= 0.0 && right <= vw, "{what}: inside the window: {m}");
                    }
                    // Text and bars take the scheme's colours (--fg and --ok).
                    let (fill, bar) = if dark {
                        ("rgb(228, 232, 236)", "rgb(111, 211, 142)")
                    } else {
                        ("rgb(29, 35, 41)", "rgb(19, 108, 48)")
                    };
                    assert_eq!(m["fill"], json!(fill), "{what}: text colour");
                    assert_eq!(m["bar"], json!(bar), "{what}: bar colour");
                    for v in serious_violations(&c, &axe).await {
                        found.push(format!("{what}: {v}"));
                    }
                    if path == "/cache/" {
                        let scheme = if dark { "_dark" } else { "" };
                        screenshot(&c, &format!("dashboard_{device}{scheme}")).await;
                    }
                }
            }
            c.close().await.expect("close");
        }
    });
    assert!(
        found.is_empty(),
        "{} violations:\n{}",
        found.len(),
        found.join("\n")
    );
}
