//! Freshness: a plugin declares how old its items may get (a default and per name
//! prefix); stale items and projects are marked on the admin pages, with a filter;
//! REST retrieve adds `Age` and, for stale items, `Warning: 110`, payload unchanged.
//! Both backends.

mod api_helpers;
mod common;
#[path = "common/web.rs"]
mod web;

use std::time::Duration;

use api_helpers::{As, World};
use diesel::prelude::*;
use serde_json::json;
use sodarcache::db::models::{Project, Role};
use sodarcache::db::schema::cache_items;
use sodarcache::plugin::prelude::*;
use sodarcache::plugins::RegistryBuilder;

use common::TestApp;
use common::fixtures as fx;
use web::{logged_in, page, run, strip_tags};

/// Items are stale after an hour; `live_*` items after a minute.
struct Timed;

impl ProjectAppPlugin for Timed {
    fn name(&self) -> &'static str {
        "timed_app"
    }

    fn title(&self) -> &'static str {
        "Timed"
    }

    fn max_age(&self) -> MaxAge {
        MaxAge::after(Duration::from_secs(3600)).prefix("live_", Duration::from_secs(60))
    }
}

/// Never stale (the default).
struct Timeless;

impl ProjectAppPlugin for Timeless {
    fn name(&self) -> &'static str {
        "timeless_app"
    }

    fn title(&self) -> &'static str {
        "Timeless"
    }
}

fn plugins() -> RegistryBuilder {
    PluginRegistry::builder()
        .project_app(Timed)
        .project_app(Timeless)
}

/// Writes an item and backdates its last write by `age_secs`; returns its UUID.
fn aged(app: &TestApp, project: &Project, app_name: &str, name: &str, age_secs: i64) -> String {
    let item = app
        .registry
        .cache()
        .unwrap()
        .set_cache_item(
            app_name,
            name,
            &json!({ "name": name }),
            "json",
            Some(project),
            None,
        )
        .unwrap();
    let when = sodarcache::db::now() - chrono::Duration::seconds(age_secs);
    diesel::update(cache_items::table.filter(cache_items::id.eq(item.id)))
        .set(cache_items::date_modified.eq(when))
        .execute(&mut **app.conn())
        .unwrap();
    item.uuid.to_string()
}

/// The names in the items table whose row is marked stale.
fn stale_rows(html: &str) -> Vec<String> {
    rows(html, true)
}

/// Every name in the items table (marked rows included).
fn item_names(html: &str) -> Vec<String> {
    rows(html, false)
}

fn rows(html: &str, only_stale: bool) -> Vec<String> {
    let Some(start) = html.find("id=\"items\"") else {
        return Vec::new();
    };
    let body = &html[start..start + html[start..].find("</table>").unwrap()];
    body.split("<tr")
        .filter(|row| row.contains("href=\"/cache/item/"))
        .filter(|row| !only_stale || row.starts_with(" class=\"stale\""))
        .map(|row| {
            let at = row.find("href=\"/cache/item/").unwrap();
            let cell = &row[at..];
            strip_tags(&cell[cell.find('>').unwrap() + 1..cell.find("</a>").unwrap()])
        })
        .collect()
}

backend_test! {
    fn stale_items_and_projects_are_marked_and_filtered_on_the_admin_pages(db) {
        let app = TestApp::spawn(&db, plugins(), |_| {});
        let conn = &mut **app.conn();
        let alice = fx::user(conn, "alice", false);
        let project = fx::project(conn, "Atlas", None, None);
        let fresh_project = fx::project(conn, "Fresh", None, None);
        fx::role(conn, &project, &alice, Role::Owner);
        fx::role(conn, &fresh_project, &alice, Role::Owner);
        let old = aged(&app, &project, "timed_app", "summary_old", 2 * 3600);
        let fresh = aged(&app, &project, "timed_app", "summary_new", 1800);
        aged(&app, &project, "timed_app", "live_old", 300);
        aged(&app, &project, "timed_app", "live_new", 20);
        aged(&app, &project, "timeless_app", "ancient", 400 * 86_400);
        aged(&app, &fresh_project, "timed_app", "summary", 60);
        run(async {
            let c = logged_in(&app, "alice").await;
            let base = format!("/cache/project/{}", project.uuid);
            let html = page(&c, &app, &base).await;
            let mut marked = stale_rows(&html);
            marked.sort();
            assert_eq!(marked, ["live_old", "summary_old"]);
            let filter = section_text(&html, "stale-filter");
            assert!(filter.contains("Stale only") && filter.contains('2'), "{filter}");
            // The filter lists exactly the stale items, and keeps the search.
            let html = page(&c, &app, &format!("{base}?stale=1")).await;
            let mut names = item_names(&html);
            names.sort();
            assert_eq!(names, ["live_old", "summary_old"]);
            assert!(section_text(&html, "total").contains("2 items match"));
            assert!(!html.contains("id=\"matching-form\""), "no bulk delete of a different set");
            let html = page(&c, &app, &format!("{base}?stale=1&q=live")).await;
            assert_eq!(item_names(&html), ["live_old"]);
            // Another project has none.
            let html = page(&c, &app, &format!("/cache/project/{}?stale=1", fresh_project.uuid)).await;
            assert!(item_names(&html).is_empty());
            assert!(html.contains("No stale items match"));
            // The item page says it and what the limit is.
            let html = page(&c, &app, &format!("/cache/item/{old}")).await;
            assert!(html.contains("id=\"stale\""));
            assert!(section_text(&html, "max-age").contains("1 hour after each write"));
            let html = page(&c, &app, &format!("/cache/item/{fresh}")).await;
            assert!(!html.contains("id=\"stale\""));
            // The overview marks the project with its stale count, linked to the filter.
            let html = page(&c, &app, "/cache/").await;
            assert!(html.contains(&format!("href=\"{base}?stale=1\"")), "stale link on the overview");
            assert!(html.contains(">2 stale</a>"));
            assert!(!html.contains(&format!("href=\"/cache/project/{}?stale=1\"", fresh_project.uuid)));
            assert!(html.contains("id=\"stale-items\""), "the overview offers the filter");
            // The overview's filter keeps the projects with stale items, and the other filters.
            let html = page(&c, &app, "/cache/?stale_items=1").await;
            assert_eq!(overview_titles(&html), ["Atlas"]);
            assert!(section_text(&html, "matching").contains("1 project matches"));
            assert!(html.contains("name=\"stale_items\" value=\"1\" id=\"stale-items\" checked"));
            let html = page(&c, &app, "/cache/?stale_items=1&q=fresh").await;
            assert!(overview_titles(&html).is_empty());
            assert!(html.contains("No project matches"));
            let html = page(&c, &app, "/cache/?stale_items=0").await;
            assert_eq!(overview_titles(&html), ["Atlas", "Fresh"]);
        });
    }
}

/// The project titles listed on the overview, in order.
fn overview_titles(html: &str) -> Vec<String> {
    let Some(start) = html.find("id=\"projects\"") else {
        return Vec::new();
    };
    let body = &html[start..start + html[start..].find("</table>").unwrap()];
    body.split("<a class=\"cut\" href=\"/cache/project/")
        .skip(1)
        .map(|a| strip_tags(&a[a.find('>').unwrap() + 1..a.find("</a>").unwrap()]))
        .collect()
}

/// The text of the element with `id` (tags stripped).
fn section_text(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let start = html[..at].rfind('<').unwrap();
    let tag: String = html[start + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let end = at + html[at..].find(&format!("</{tag}>")).unwrap();
    strip_tags(&html[start..end])
}

backend_test! {
    fn without_limits_nothing_is_stale_and_no_filter_is_offered(db) {
        let app = TestApp::spawn(&db, PluginRegistry::builder().project_app(Timeless), |_| {});
        let conn = &mut **app.conn();
        let alice = fx::user(conn, "alice", false);
        let project = fx::project(conn, "Atlas", None, None);
        fx::role(conn, &project, &alice, Role::Owner);
        aged(&app, &project, "timeless_app", "ancient", 400 * 86_400);
        run(async {
            let c = logged_in(&app, "alice").await;
            let html = page(&c, &app, &format!("/cache/project/{}?stale=1", project.uuid)).await;
            assert!(!html.contains("id=\"stale-filter\""));
            assert_eq!(item_names(&html), ["ancient"], "the parameter is ignored");
            assert!(stale_rows(&html).is_empty());
            // The overview offers no items filter and ignores the parameter.
            let html = page(&c, &app, "/cache/?stale_items=1").await;
            assert!(!html.contains("id=\"stale-items\""));
            assert_eq!(overview_titles(&html), ["Atlas"]);
        });
    }
}

backend_test! {
    fn retrieve_adds_age_and_a_warning_for_stale_items_with_the_payload_unchanged(db) {
        let w = World::with_plugins(&db, plugins(), |_| {});
        run(async {
            let path = |name: &str| format!("/cache/api/retrieve/{}/timed_app/{name}", w.project.uuid);
            let fresh = aged(&w.app, &w.project, "timed_app", "summary", 1800);
            aged(&w.app, &w.project, "timed_app", "live_status", 120);
            let _ = fresh;
            let reply = w.get(&path("summary"), As::User("owner")).await;
            assert_eq!(reply.status, 200, "{reply:?}");
            let age: u64 = reply.header("age").expect("Age").parse().unwrap();
            assert!((1800..1800 + 120).contains(&age), "Age {age}");
            assert_eq!(reply.header("warning"), None);
            let body = reply.json();
            let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys.len(), 6, "upstream's six fields: {keys:?}");
            assert_eq!(body["data"], json!({ "name": "summary" }));

            let stale = w.get(&path("live_status"), As::User("owner")).await;
            assert_eq!(stale.status, 200);
            assert_eq!(stale.header("warning"), Some("110 - \"Response is Stale\""));
            let age: u64 = stale.header("age").unwrap().parse().unwrap();
            assert!(age >= 120, "Age {age}");
            assert_eq!(stale.json()["data"], json!({ "name": "live_status" }));

            // A revalidation says the same; an item of a plugin without limits has an Age only.
            let etag = stale.header("etag").unwrap().to_owned();
            let revalidated = api_helpers::send(
                w.request(reqwest::Method::GET, &path("live_status"), As::User("owner"))
                    .header("if-none-match", etag),
            )
            .await;
            assert_eq!(revalidated.status, 304);
            assert!(revalidated.header("warning").is_some() && revalidated.header("age").is_some());
            aged(&w.app, &w.project, "timeless_app", "ancient", 400 * 86_400);
            let timeless = w
                .get(&format!("/cache/api/retrieve/{}/timeless_app/ancient", w.project.uuid), As::User("owner"))
                .await;
            assert_eq!(timeless.status, 200);
            assert!(timeless.header("age").unwrap().parse::<u64>().unwrap() >= 400 * 86_400);
            assert_eq!(timeless.header("warning"), None);
        });
    }
}
