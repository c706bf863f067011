//! The item page's history over HTTP: the kept versions, and a structural diff between
//! any two of them (added, removed and changed paths with old and new values, long
//! values shortened), on both backends.

mod common;
#[path = "common/web.rs"]
mod web;

use serde_json::{Value, json};
use sodarcache::db::models::{ItemVersion, Project, Role, User};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::TestApp;
use common::fixtures as fx;
use web::*;

const EXAMPLE: &str = "example_project_app";

fn spawn(db: &common::TestDb) -> TestApp {
    TestApp::spawn(
        db,
        PluginRegistry::builder().project_app(ExampleProjectApp),
        |_| {},
    )
}

fn set(app: &TestApp, name: &str, data: Value, project: &Project, user: Option<&User>) -> String {
    app.registry
        .cache()
        .expect("cache backend")
        .set_cache_item(EXAMPLE, name, &data, "json", Some(project), user)
        .expect("set item")
        .uuid
        .to_string()
}

/// The text of the element with `id` (tags stripped), or none.
fn section(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let start = html[..at].rfind('<')?;
    let tag: String = html[start + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let end = html[at..]
        .find(&format!("</{tag}>"))
        .map_or(html.len(), |e| at + e);
    Some(strip_tags(&html[start..end]))
}

/// The changes of the diff shown: `kind path old new` per row, whitespace squeezed.
fn changes(html: &str) -> Vec<String> {
    let Some(start) = html.find("id=\"diff\"") else {
        return Vec::new();
    };
    let list = &html[start..start + html[start..].find("</ul>").expect("end of diff")];
    list.split("<li")
        .skip(1)
        .map(|li| {
            strip_tags(&format!("<li{li}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// `&quot;` and friends back to text (the page escapes JSON values).
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

backend_test! {
    fn the_item_page_lists_versions_and_diffs_the_last_change(db) {
        let app = spawn(&db);
        let conn = &mut **app.conn();
        let alice = fx::user(conn, "alice", false);
        let bob = fx::user(conn, "bob", false);
        let project = fx::project(conn, "Atlas", None, None);
        fx::role(conn, &project, &alice, Role::Owner);
        fx::role(conn, &project, &bob, Role::Contributor);
        let uuid = set(&app, "run", json!({ "run": { "id": 7, "samples": [{ "ok": true }] }, "gone": 1 }), &project, Some(&alice));
        set(&app, "run", json!({ "run": { "id": 7, "samples": [{ "ok": true }] }, "gone": 1 }), &project, Some(&alice));
        set(&app, "run", json!({ "run": { "id": 8, "samples": [{ "ok": false }, { "ok": true }] }, "new": "x" }), &project, Some(&bob));
        run(async {
            let c = logged_in(&app, "bob").await;
            let html = page(&c, &app, &format!("/cache/item/{uuid}")).await;
            // Unchanged data made no version: two versions, the current one first.
            let versions = section(&html, "versions").expect("versions table");
            let rows: Vec<&str> = versions.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            assert!(rows.iter().any(|r| r.starts_with("2 current")), "{versions}");
            assert!(!html.contains("id=\"no-history\""));
            assert!(versions.contains("alice") && versions.contains("bob"), "{versions}");
            assert!(versions.contains("library"), "{versions}");
            assert!(html.contains("href=\"?from=1&amp;to=2#changes\""), "a link to each change");
            // By default the newest earlier version against the current one.
            let heading = section(&html, "changes").expect("changes");
            assert!(heading.contains("Changes from version 1 to 2"), "{heading}");
            assert_eq!(
                changes(&html).iter().map(|c| unescape(c)).collect::<Vec<_>>(),
                [
                    "removed $.gone old value: − 1",
                    "added $.new new value: + \"x\"",
                    "changed $.run.id old value: − 7 new value: + 8",
                    "changed $.run.samples[0].ok old value: − true new value: + false",
                    "added $.run.samples[1] new value: + {\"ok\":true}",
                ]
            );
        });
    }
}

backend_test! {
    fn any_two_kept_versions_compare_and_long_values_are_shortened(db) {
        let app = spawn(&db);
        let conn = &mut **app.conn();
        let alice = fx::user(conn, "alice", false);
        let project = fx::project(conn, "Atlas", None, None);
        fx::role(conn, &project, &alice, Role::Guest);
        ItemVersion::set_keep(conn, 2).unwrap();
        let long = "é".repeat(5000);
        let uuid = set(&app, "doc", json!({ "n": 1 }), &project, None);
        for n in 2..=4 {
            set(&app, "doc", json!({ "n": n, "text": if n == 4 { long.clone() } else { String::new() } }), &project, None);
        }
        run(async {
            let c = logged_in(&app, "alice").await;
            let base = format!("/cache/item/{uuid}");
            // Versions 2..=4 are kept (two earlier, plus the current one); either order works.
            for query in ["?from=2&to=4", "?from=4&to=2"] {
                let html = page(&c, &app, &format!("{base}{query}")).await;
                assert!(section(&html, "changes").unwrap().contains("Changes from version 2 to 4"));
                let rows = changes(&html);
                assert_eq!(rows.len(), 2, "{rows:?}");
                assert!(unescape(&rows[0]).starts_with("changed $.n old value: − 2 new value: + 4"), "{rows:?}");
                let text = unescape(&rows[1]);
                assert!(text.starts_with("changed $.text old value: − \"\" new value: + \"éé"), "{text}");
                assert!(text.ends_with('…'), "a long value is cut: {text}");
                assert!(text.chars().count() < 300, "{} characters", text.chars().count());
                assert!(html.len() < 40_000, "the page does not carry the long value: {} bytes", html.len());
            }
            // The selected versions come back in the form.
            let html = page(&c, &app, &format!("{base}?from=3&to=4")).await;
            assert!(html.contains("<option value=\"3\" selected>"), "from selected");
            assert!(html.contains("<option value=\"4\" selected>"), "to selected");
            // A pruned version says so; the same version twice, or nonsense, shows no diff but no error.
            let html = page(&c, &app, &format!("{base}?from=1&to=4")).await;
            assert!(section(&html, "diff-missing").unwrap().contains("Version 1 of this item is not kept"));
            let html = page(&c, &app, &format!("{base}?from=4&to=4")).await;
            assert!(!html.contains("id=\"changes\""));
            for query in ["?from=x&to=-1", "?from=99999999999999999999", "?to=0"] {
                let html = page(&c, &app, &format!("{base}{query}")).await;
                assert!(section(&html, "changes").unwrap().contains("Changes from version 3 to 4"), "{query}");
            }
            let html = page(&c, &app, &format!("{base}?to=77")).await;
            assert!(section(&html, "diff-missing").unwrap().contains("Version 77"), "a version never written");
        });
    }
}

backend_test! {
    fn an_item_with_one_version_says_so_and_the_history_needs_read_access(db) {
        let app = spawn(&db);
        let conn = &mut **app.conn();
        fx::user(conn, "alice", false);
        fx::user(conn, "mallory", false);
        let project = fx::project(conn, "Atlas", None, None);
        let alice = sodarcache::db::models::User::find_by_username(conn, "alice").unwrap().unwrap();
        fx::role(conn, &project, &alice, Role::Guest);
        let uuid = set(&app, "one", json!([1]), &project, None);
        run(async {
            let c = logged_in(&app, "alice").await;
            let html = page(&c, &app, &format!("/cache/item/{uuid}?from=1&to=1")).await;
            assert!(html.contains("id=\"no-history\""));
            assert!(!html.contains("id=\"changes\""));
            let m = logged_in(&app, "mallory").await;
            let (status, _) = get(&m, &app, &format!("/cache/item/{uuid}?from=1&to=2")).await;
            assert_eq!(status, reqwest::StatusCode::FORBIDDEN);
        });
    }
}
