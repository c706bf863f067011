//! The dashboards of the overview and the project page, over HTTP on both backends:
//! cache size per app, item ages (fresh / aging / stale by the freshness rules) and
//! sync outcomes per day, with the numbers of what the viewer may read only, in the
//! charts' labels and in their tables.

mod common;
#[path = "common/web.rs"]
mod web;

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;
use sodarcache::db::DbUuid;
use sodarcache::db::models::{JobStatus, Origin, Project, Role};
use sodarcache::db::schema::{cache_items, sync_jobs};
use sodarcache::plugin::prelude::*;
use sodarcache::web::format::size;

use common::TestApp;
use common::fixtures as fx;
use web::{logged_in, page, run, strip_tags};

/// Items are stale an hour after their last write.
struct Timed;

impl ProjectAppPlugin for Timed {
    fn name(&self) -> &'static str {
        "timed_app"
    }

    fn title(&self) -> &'static str {
        "Timed"
    }

    fn max_age(&self) -> MaxAge {
        MaxAge::after(Duration::from_secs(3600))
    }
}

/// No limit: the overview's "no update for N days" applies.
struct Plain;

impl ProjectAppPlugin for Plain {
    fn name(&self) -> &'static str {
        "plain_app"
    }

    fn title(&self) -> &'static str {
        "Plain"
    }
}

/// Writes an item whose last write was `age_secs` ago.
fn aged(app: &TestApp, project: Option<&Project>, app_name: &str, name: &str, age_secs: i64) {
    let item = app
        .registry
        .cache()
        .unwrap()
        .set_cache_item(
            app_name,
            name,
            &json!({ "name": name, "pad": "x".repeat(100) }),
            "json",
            project,
            None,
        )
        .unwrap();
    let when = sodarcache::db::now() - chrono::Duration::seconds(age_secs);
    diesel::update(cache_items::table.filter(cache_items::id.eq(item.id)))
        .set(cache_items::date_modified.eq(when))
        .execute(&mut **app.conn())
        .unwrap();
}

/// A finished job of `project` (none: the whole site).
fn job(app: &TestApp, project: Option<&Project>, status: JobStatus, finished: NaiveDateTime) {
    diesel::insert_into(sync_jobs::table)
        .values((
            sync_jobs::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
            sync_jobs::project_id.eq(project.map(|p| p.id)),
            sync_jobs::origin.eq(Origin::Web),
            sync_jobs::status.eq(status),
            sync_jobs::created.eq(finished - chrono::Duration::seconds(5)),
            sync_jobs::started.eq(finished - chrono::Duration::seconds(4)),
            sync_jobs::finished.eq(finished),
        ))
        .execute(&mut **app.conn())
        .unwrap();
}

/// Items and bytes of `app_name` in these scopes (`None`: site-wide), from the database.
fn usage(app: &TestApp, app_name: &str, keys: &[i64]) -> (i64, i64) {
    let sizes: Vec<i64> = cache_items::table
        .filter(cache_items::app_name.eq(app_name))
        .filter(cache_items::project_key.eq_any(keys))
        .select(cache_items::size_bytes)
        .load(&mut **app.conn())
        .unwrap();
    (sizes.len() as i64, sizes.iter().sum())
}

/// The rows of the table with `id`, each as its cells' text.
fn table(html: &str, id: &str) -> Vec<Vec<String>> {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let body = &html[at..at + html[at..].find("</table>").unwrap()];
    let body = &body[body.find("<tbody>").unwrap()..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("</t")
                .filter_map(|cell| cell.rfind('>').map(|i| strip_tags(&cell[i + 1..])))
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect()
}

/// The text of the SVG element with `id`.
fn label(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id}"));
    let rest = &html[at + id.len() + 6..];
    rest[..rest.find('<').unwrap()].to_owned()
}

/// Today's (UTC) row of the sync outcomes table: done, failed, cancelled.
fn day_row(html: &str, day: NaiveDateTime) -> Vec<String> {
    let day = day.format("%Y-%m-%d").to_string();
    table(html, "dash-syncs-table")
        .into_iter()
        .find(|r| r[0] == day)
        .unwrap_or_else(|| panic!("no row for {day}"))[1..]
        .to_vec()
}

backend_test! {
    fn the_dashboards_count_what_the_viewer_may_read(db) {
        let app = TestApp::spawn(
            &db,
            PluginRegistry::builder().project_app(Timed).project_app(Plain),
            |_| {},
        );
        let (atlas, hidden, empty) = {
            let conn = &mut **app.conn();
            let alice = fx::user(conn, "alice", false);
            fx::user(conn, "root", true);
            let atlas = fx::project(conn, "Atlas", None, None);
            let hidden = fx::project(conn, "Hidden", None, None);
            let empty = fx::project(conn, "Empty", None, None);
            fx::role(conn, &atlas, &alice, Role::Owner);
            fx::role(conn, &empty, &alice, Role::Owner);
            (atlas, hidden, empty)
        };
        let day = 86_400;
        // Atlas: two fresh, two aging (past half the limit), two stale.
        aged(&app, Some(&atlas), "timed_app", "fresh", 600);
        aged(&app, Some(&atlas), "timed_app", "half", 45 * 60);
        aged(&app, Some(&atlas), "timed_app", "old", 2 * 3600);
        aged(&app, Some(&atlas), "plain_app", "recent", day);
        aged(&app, Some(&atlas), "plain_app", "month", 20 * day);
        aged(&app, Some(&atlas), "plain_app", "ancient", 40 * day);
        for i in 0..5 {
            aged(&app, Some(&hidden), "plain_app", &format!("h{i}"), 60);
        }
        aged(&app, None, "plain_app", "site_item", 60);
        let now = sodarcache::db::now();
        let yesterday = now - chrono::Duration::days(1);
        job(&app, Some(&atlas), JobStatus::Done, now);
        job(&app, Some(&atlas), JobStatus::Done, now);
        job(&app, Some(&atlas), JobStatus::Failed, yesterday);
        job(&app, Some(&atlas), JobStatus::Cancelled, now - chrono::Duration::days(3));
        job(&app, Some(&atlas), JobStatus::Done, now - chrono::Duration::days(20));
        for _ in 0..3 {
            job(&app, Some(&hidden), JobStatus::Done, now);
        }
        let (a_plain, a_timed) = (usage(&app, "plain_app", &[atlas.id]), usage(&app, "timed_app", &[atlas.id]));
        let all_plain = usage(&app, "plain_app", &[atlas.id, hidden.id, 0]);
        let row = |(items, bytes): (i64, i64), name: &str| vec![name.to_owned(), items.to_string(), size(bytes)];
        run(async {
            // Alice reads Atlas (and an empty project): not Hidden, not the site-wide items.
            let c = logged_in(&app, "alice").await;
            let html = page(&c, &app, "/cache/").await;
            assert_eq!(html.matches("<svg role=\"img\"").count(), 3);
            let mut apps = table(&html, "dash-apps-table");
            apps.sort();
            assert_eq!(apps, [row(a_plain, "plain_app"), row(a_timed, "timed_app")]);
            assert_eq!(label(&html, "dash-ages-fresh"), "2 · 33%");
            assert_eq!(label(&html, "dash-ages-aging"), "2 · 33%");
            assert_eq!(label(&html, "dash-ages-stale"), "2 · 33%");
            assert_eq!(table(&html, "dash-ages-table")[2], ["Stale", "2", "33%"]);
            assert_eq!(label(&html, "dash-syncs-done"), "2 done", "Hidden's jobs and a job 20 days ago do not count");
            assert_eq!(label(&html, "dash-syncs-failed"), "1 failed");
            assert_eq!(label(&html, "dash-syncs-cancelled"), "1 cancelled");
            assert_eq!(day_row(&html, now), ["2", "0", "0"]);
            assert_eq!(day_row(&html, yesterday), ["0", "1", "0"]);
            assert_eq!(table(&html, "dash-syncs-table").len(), 14);
            assert!(html.contains("<desc id=\"dash-ages-d\">Fresh: 2 (33%); Aging: 2 (33%); Stale: 2 (33%)</desc>"));
            // A shorter "no update for" makes the 20-day-old item stale too.
            let html = page(&c, &app, "/cache/?stale=10").await;
            assert_eq!(label(&html, "dash-ages-stale"), "3 · 50%");
            assert_eq!(label(&html, "dash-ages-aging"), "1 · 17%");

            // The project page: the same numbers, for its apps.
            let html = page(&c, &app, &format!("/cache/project/{}", atlas.uuid)).await;
            let mut apps = table(&html, "dash-apps-table");
            apps.sort();
            assert_eq!(apps, [row(a_plain, "plain_app"), row(a_timed, "timed_app")]);
            assert_eq!(label(&html, "dash-ages-stale"), "2 · 33%");
            assert_eq!(label(&html, "dash-syncs-done"), "2 done");
            // A project with neither items nor syncs has no dashboard.
            let html = page(&c, &app, &format!("/cache/project/{}", empty.uuid)).await;
            assert!(!html.contains("id=\"dashboard\""));

            // A superuser counts every project and the site-wide items.
            let c = logged_in(&app, "root").await;
            let html = page(&c, &app, "/cache/").await;
            let apps = table(&html, "dash-apps-table");
            assert!(apps.contains(&row(all_plain, "plain_app")), "{apps:?}");
            assert_eq!(all_plain.0, 9);
            assert_eq!(label(&html, "dash-syncs-done"), "5 done");
            assert_eq!(label(&html, "dash-ages-fresh"), "8 · 67%");
            let html = page(&c, &app, &format!("/cache/project/{}", hidden.uuid)).await;
            assert_eq!(table(&html, "dash-apps-table"), [row(usage(&app, "plain_app", &[hidden.id]), "plain_app")]);
            assert_eq!(label(&html, "dash-syncs-done"), "3 done");
            assert_eq!(label(&html, "dash-ages-fresh"), "5 · 100%");
        });
    }
}
