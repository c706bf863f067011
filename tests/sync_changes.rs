//! What a sync changed: per plugin, the job page counts the items it created, changed,
//! wrote unchanged (no new version) and did not touch; the project page lists the
//! items a job created or changed, each linked to its diff. Both backends.

mod common;
#[path = "common/web.rs"]
mod web;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;
use sodarcache::cache::jobs::request_sync;
use sodarcache::db::models::{ItemCounts, Origin, Project, Role, SyncJob};
use sodarcache::plugin::prelude::*;

use common::TestApp;
use common::fixtures as fx;
use web::{logged_in, page, poll, run, strip_tags};

/// Generation 1 writes `a`, `b`, `c`; generation 2 changes `a`, writes `b` unchanged,
/// leaves `c` alone and creates `d`. A sub-app item `s` changes every time.
struct Generations(Arc<AtomicU64>);

impl ProjectAppPlugin for Generations {
    fn name(&self) -> &'static str {
        "gen_app"
    }

    fn title(&self) -> &'static str {
        "Generations"
    }

    fn sub_apps(&self) -> &'static [&'static str] {
        &["gen_app.sub"]
    }

    fn sync_project(&self, ctx: &SyncContext, _: &ProjectView) -> SyncResult {
        let generation = self.0.load(Ordering::SeqCst);
        ctx.set(
            "a",
            &json!({ "gen": generation, "nested": { "x": generation } }),
        )?;
        ctx.set("b", &json!({ "constant": true }))?;
        if generation == 1 {
            ctx.set("c", &json!("only once"))?;
        } else {
            ctx.set("d", &json!("new in 2"))?;
        }
        ctx.sub_app("gen_app.sub")?.set("s", &json!(generation))?;
        Ok(())
    }
}

/// Another plugin, which writes nothing.
struct Idle;

impl ProjectAppPlugin for Idle {
    fn name(&self) -> &'static str {
        "idle_app"
    }

    fn title(&self) -> &'static str {
        "Idle"
    }
}

fn spawn(db: &common::TestDb, generation: &Arc<AtomicU64>) -> TestApp {
    TestApp::spawn(
        db,
        PluginRegistry::builder()
            .project_app(Generations(generation.clone()))
            .project_app(Idle),
        |_| {},
    )
}

/// Queues a sync of `project` and waits (bounded, generously) until the server's
/// worker has run it.
async fn sync(app: &TestApp, project: &Project) -> SyncJob {
    let (job, _) = request_sync(&mut app.conn(), Some(project), None, Origin::Cli, None).unwrap();
    poll(Duration::from_secs(30), || {
        SyncJob::find_by_uuid(&mut app.conn(), job.uuid.0)
            .unwrap()
            .filter(SyncJob::is_finished)
    })
    .await
    .expect("the job ended within 30 s")
}

fn counts(app: &TestApp, job: &SyncJob) -> Vec<(String, [i64; 4])> {
    ItemCounts::for_job(&mut app.conn(), job.id)
        .unwrap()
        .into_iter()
        .map(|c| (c.plugin, [c.created, c.changed, c.unchanged, c.untouched]))
        .collect()
}

/// The cells of the `#item-counts` table, a row per plugin.
fn counts_table(html: &str) -> Vec<String> {
    let start = html.find("id=\"item-counts\"").expect("counts table");
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    table
        .split("<tr>")
        .skip(2)
        .map(|row| {
            row.split("</td>")
                .map(|c| strip_tags(c).trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The `#changed-items` list: `app name — link text` per item.
fn changed_list(html: &str) -> Vec<String> {
    let Some(start) = html.find("id=\"changed-items\"") else {
        return Vec::new();
    };
    let list = &html[start..start + html[start..].find("</ul>").unwrap()];
    list.split("<li>")
        .skip(1)
        .map(|li| {
            strip_tags(li)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

backend_test! {
    fn the_job_page_counts_created_changed_unchanged_and_untouched_items_per_plugin(db) {
        let generation = Arc::new(AtomicU64::new(1));
        let app = spawn(&db, &generation);
        let conn = &mut **app.conn();
        let alice = fx::user(conn, "alice", false);
        let project = fx::project(conn, "Atlas", None, None);
        let other = fx::project(conn, "Other", None, None);
        fx::role(conn, &project, &alice, Role::Owner);
        run(async {
            // Another project's items are outside the job's scope.
            sync(&app, &other).await;
            let first = sync(&app, &project).await;
            assert_eq!(
                counts(&app, &first),
                [("gen_app".to_owned(), [4, 0, 0, 0]), ("idle_app".to_owned(), [0, 0, 0, 0])]
            );
            generation.store(2, Ordering::SeqCst);
            let second = sync(&app, &project).await;
            // Created d; changed a and s; b unchanged; c not written.
            assert_eq!(counts(&app, &second)[0], ("gen_app".to_owned(), [1, 2, 1, 1]));
            let c = logged_in(&app, "alice").await;
            let html = page(&c, &app, &format!("/cache/jobs/{}", second.uuid)).await;
            assert_eq!(counts_table(&html), ["gen_app 1 2 1 1", "idle_app 0 0 0 0"]);
            assert!(html.contains(&format!("href=\"/cache/project/{}?changed={}#changed\"", project.uuid, second.uuid)));
        });
    }
}

backend_test! {
    fn the_project_page_lists_what_a_sync_changed_with_links_to_the_diffs(db) {
        let generation = Arc::new(AtomicU64::new(1));
        let app = spawn(&db, &generation);
        let conn = &mut **app.conn();
        let alice = fx::user(conn, "alice", false);
        let project = fx::project(conn, "Atlas", None, None);
        fx::role(conn, &project, &alice, Role::Owner);
        run(async {
            let first = sync(&app, &project).await;
            generation.store(2, Ordering::SeqCst);
            let second = sync(&app, &project).await;
            let c = logged_in(&app, "alice").await;
            let base = format!("/cache/project/{}", project.uuid);
            // The last sync links to its changes.
            let html = page(&c, &app, &base).await;
            assert!(html.contains(&format!("href=\"{base}?changed={}#changed\"", second.uuid)), "last sync link");
            let html = page(&c, &app, &format!("{base}?changed={}", second.uuid)).await;
            assert_eq!(
                changed_list(&html),
                [
                    "gen_app a — changes in version 2",
                    "gen_app d — new",
                    "gen_app.sub s — changes in version 2",
                ]
            );
            // Each change links to the diff of the version the job wrote.
            let a = sodarcache::db::models::CacheItem::find(
                &mut app.conn(),
                sodarcache::db::Scope::of(Some(&project)),
                "gen_app",
                "a",
            )
            .unwrap()
            .unwrap();
            let diff = format!("/cache/item/{}?from=1&to=2#changes", a.uuid);
            let escaped = [diff.replace('&', "&amp;"), diff.replace('&', "&#38;")];
            assert!(escaped.iter().any(|d| html.contains(&format!("href=\"{d}\""))), "diff link");
            let diff_page = page(&c, &app, &diff).await;
            assert!(strip_tags(&diff_page).contains("$.gen"), "the diff names the change");
            // The first sync created everything it wrote; still listed after the second.
            let html = page(&c, &app, &format!("{base}?changed={}", first.uuid)).await;
            let list = changed_list(&html);
            assert!(list.contains(&"gen_app c — new".to_owned()), "{list:?}");
            assert!(list.contains(&"gen_app a — new".to_owned()), "{list:?}");
            // An edited link is a 404, not a 500.
            for bad in ["nope", "00000000-0000-0000-0000-000000000000"] {
                let (status, _) = web::get(&c, &app, &format!("{base}?changed={bad}")).await;
                assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{bad}");
            }
        });
    }
}
