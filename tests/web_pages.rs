//! Admin web UI pages, black-box over HTTP against a real server: who sees which
//! project, the project page's search, filter, sort and pages, the item page, the
//! sync job pages.

mod common;
#[path = "common/web.rs"]
mod web;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sodarcache::cache::jobs::request_sync;
use sodarcache::cache::{CacheWrite, SodarCache};
use sodarcache::db::JsonText;
use sodarcache::db::models::JobStatus;
use sodarcache::db::models::{Event, NewEvent, Origin, Project, PublicAccess, Role, SyncJob, User};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::TestApp;
use common::fixtures as fx;
use common::plugins::{Gate, TestPlugin};
use web::*;

const EXAMPLE: &str = "example_project_app";

fn spawn(db: &common::TestDb) -> TestApp {
    TestApp::spawn(
        db,
        PluginRegistry::builder().project_app(ExampleProjectApp),
        |_| {},
    )
}

fn cache(app: &TestApp) -> std::sync::Arc<SodarCache> {
    app.registry.cache().expect("cache backend enabled")
}

fn set(
    app: &TestApp,
    app_name: &str,
    name: &str,
    data: serde_json::Value,
    project: Option<&Project>,
    user: Option<&User>,
) -> String {
    cache(app)
        .set_cache_item(app_name, name, &data, "json", project, user)
        .expect("set item")
        .uuid
        .to_string()
}

fn project_link(p: &Project) -> String {
    format!("href=\"/cache/project/{}\"", p.uuid)
}

backend_test! {
    fn the_overview_lists_exactly_the_projects_the_user_may_read(db) {
        let app = spawn(&db);
        let conn = &mut **app.conn();
        let alice = fx::user(conn, "alice", false);
        let carol = fx::user(conn, "carol", false);
        fx::user(conn, "root", true);
        let cat = fx::category(conn, "Cat", None);
        let sub = fx::category(conn, "Sub", Some(&cat));
        let finder_cat = fx::category(conn, "Finders", None);
        let owned = fx::project(conn, "Owned", Some(&cat), None);
        let delegated = fx::project(conn, "Delegated", Some(&cat), None);
        let contributed = fx::project(conn, "Contributed", Some(&cat), None);
        let guested = fx::project(conn, "Guested", Some(&cat), None);
        let viewed = fx::project(conn, "Viewed", Some(&cat), None);
        let none = fx::project(conn, "Nothing", Some(&cat), None);
        let inherited = fx::project(conn, "Inherited", Some(&sub), None);
        let found = fx::project(conn, "Found", Some(&finder_cat), None);
        let public = fx::project(conn, "Public", Some(&finder_cat), Some(PublicAccess::Guest));
        let public_viewer = fx::project(conn, "PublicViewer", Some(&finder_cat), Some(PublicAccess::Viewer));
        fx::role(conn, &owned, &alice, Role::Owner);
        fx::role(conn, &delegated, &alice, Role::Delegate);
        fx::role(conn, &contributed, &alice, Role::Contributor);
        fx::role(conn, &guested, &alice, Role::Guest);
        fx::role(conn, &viewed, &alice, Role::Viewer);
        fx::role(conn, &sub, &alice, Role::Guest);
        fx::role(conn, &finder_cat, &alice, Role::Finder);
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            set(&app, EXAMPLE, name, json!({ "i": i }), Some(&owned), Some(&alice));
        }
        set(&app, "sodarcache", "d", json!([1, 2]), Some(&owned), None);
        set(&app, EXAMPLE, "site-item", json!({}), None, None);

        run(async {
            let c = logged_in(&app, "alice").await;
            let html = page(&c, &app, "/cache/").await;
            for p in [&owned, &delegated, &contributed, &guested, &inherited, &public] {
                assert!(html.contains(&project_link(p)), "alice should see {}", p.title);
            }
            for p in [&viewed, &none, &found, &public_viewer, &cat, &sub, &finder_cat] {
                assert!(!html.contains(&project_link(p)), "alice should not see {}", p.title);
            }
            // Item count, apps and the category path of the owned project.
            let row = html.split("<tr>").find(|r| r.contains(&project_link(&owned))).unwrap();
            assert!(row.contains("<td class=\"num\">4</td>"), "{row}");
            assert!(row.contains("example_project_app, sodarcache"), "{row}");
            assert!(row.contains("title=\"Cat\">Cat</span>"), "{row}");
            assert!(row.contains("never synced"), "{row}");
            let empty = html.split("<tr>").find(|r| r.contains(&project_link(&delegated))).unwrap();
            assert!(empty.contains("<td class=\"num\">0</td>"), "{empty}");
            // Site-wide items are for superusers (by default): neither listed nor buttons.
            assert!(!html.contains("href=\"/cache/site\""), "{html}");
            assert!(!has_id(&html, "sync-site") && !has_id(&html, "delete-site"));

            // A user with no role sees only the public-guest project.
            let c = logged_in(&app, "carol").await;
            let html = page(&c, &app, "/cache/").await;
            let visible: Vec<&str> = [&owned, &delegated, &contributed, &guested, &viewed, &none, &inherited, &found, &public, &public_viewer]
                .iter()
                .filter(|p| html.contains(&project_link(p)))
                .map(|p| p.title.as_str())
                .collect();
            assert_eq!(visible, vec!["Public"]);
            let _ = &carol;

            // A superuser sees every project (not categories) and the site-wide buttons.
            let c = logged_in(&app, "root").await;
            let html = page(&c, &app, "/cache/").await;
            for p in [&owned, &delegated, &contributed, &guested, &viewed, &none, &inherited, &found, &public, &public_viewer] {
                assert!(html.contains(&project_link(p)), "root should see {}", p.title);
            }
            assert!(!html.contains(&project_link(&cat)));
            assert!(has_id(&html, "sync-site") && has_id(&html, "delete-site"));
            assert!(html.contains("href=\"/cache/site\">1 item</a>"), "{html}");
        });
    }
}

backend_test! {
    fn an_empty_overview_says_what_to_do(db) {
        let app = spawn(&db);
        fx::user(&mut app.conn(), "alice", false);
        run(async {
            let c = logged_in(&app, "alice").await;
            let html = page(&c, &app, "/cache/").await;
            assert!(html.contains("You cannot read the cache of any project yet."));
            assert!(!html.contains("Site-wide items"), "site-wide items are for superusers");
        });
    }
}

backend_test! {
    fn the_project_page_is_403_without_read_and_404_for_unknown_projects(db) {
        let app = spawn(&db);
        let (p, viewed, cat, item) = {
            let conn = &mut **app.conn();
            let alice = fx::user(conn, "alice", false);
            let cat = fx::category(conn, "Cat", None);
            let p = fx::project(conn, "P", Some(&cat), None);
            let viewed = fx::project(conn, "V", Some(&cat), None);
            fx::role(conn, &viewed, &alice, Role::Viewer);
            fx::role(conn, &cat, &alice, Role::Finder);
            let item = set(&app, EXAMPLE, "x", json!({}), Some(&p), None);
            (p, viewed, cat, item)
        };
        run(async {
            let c = logged_in(&app, "alice").await;
            for path in [
                format!("/cache/project/{}", p.uuid),
                format!("/cache/project/{}", viewed.uuid),
                format!("/cache/project/{}?page=2&sort=size", p.uuid),
                format!("/cache/item/{item}"),
                format!("/cache/item/{item}/download"),
            ] {
                let (status, body) = get(&c, &app, &path).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
                assert!(body.contains("permission"), "{path}: {body}");
                assert!(!body.contains("\"x\""), "{path}: no data leaks");
            }
            for path in [
                "/cache/project/7c1d2f3e-0000-4000-8000-000000000000".to_owned(),
                "/cache/project/not-a-uuid".to_owned(),
                "/cache/project/1".to_owned(),
                "/cache/item/7c1d2f3e-0000-4000-8000-000000000000".to_owned(),
                "/cache/item/%3Cscript%3E".to_owned(),
                "/cache/jobs/7c1d2f3e-0000-4000-8000-000000000000".to_owned(),
                "/cache/jobs/nope".to_owned(),
                format!("/cache/project/{}", cat.uuid),
            ] {
                let (status, body) = get(&c, &app, &path).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
                assert!(!body.contains("<script>"), "{path}");
            }
            // The site-wide page is for superusers (by default).
            let (status, _) = get(&c, &app, "/cache/site").await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        });
    }
}

/// Sets up a project with items for the list tests; returns it and the owner's client name.
fn listing(app: &TestApp) -> Project {
    let conn = &mut **app.conn();
    // Created out of name order, so sorting by writer cannot pass by sorting on ids.
    let cid = fx::user(conn, "cid", false);
    let ann = fx::user(conn, "ann", false);
    let bob = fx::user(conn, "bob", false);
    let p = fx::project(conn, "Listed", None, None);
    fx::role(conn, &p, &ann, Role::Owner);
    // Written in this order (modified ascending), with distinct sizes and writers.
    let items: [(&str, &str, serde_json::Value, &User); 4] = [
        ("sodarcache", "alpha", json!({ "x": "a".repeat(50) }), &cid),
        (EXAMPLE, "delta", json!({ "x": 1 }), &ann),
        (
            "sodarcache",
            "charlie",
            json!({ "x": "a".repeat(100) }),
            &bob,
        ),
        (EXAMPLE, "bravo", json!({ "x": "a".repeat(5) }), &ann),
    ];
    for (app_name, name, data, user) in items {
        set(app, app_name, name, data, Some(&p), Some(user));
        // Distinct update times on both backends (microsecond resolution).
        std::thread::sleep(Duration::from_millis(5));
    }
    p
}

backend_test! {
    fn the_project_page_sorts_by_every_column_and_direction(db) {
        let app = spawn(&db);
        let p = listing(&app);
        run(async {
            let c = logged_in(&app, "ann").await;
            let base = format!("/cache/project/{}", p.uuid);
            let html = page(&c, &app, &base).await;
            assert_eq!(item_names(&html), ["bravo", "delta", "alpha", "charlie"], "default: app, then name");
            let cases: [(&str, [&str; 4]); 5] = [
                ("app", ["bravo", "delta", "alpha", "charlie"]),
                ("name", ["alpha", "bravo", "charlie", "delta"]),
                ("size", ["delta", "bravo", "alpha", "charlie"]),
                ("modified", ["alpha", "delta", "charlie", "bravo"]),
                ("user", ["delta", "bravo", "charlie", "alpha"]),
            ];
            for (key, asc) in cases {
                let html = page(&c, &app, &format!("{base}?sort={key}")).await;
                assert_eq!(item_names(&html), asc, "sort={key}");
                assert!(html.contains(" ▲</a>"), "sort={key}: arrow");
                let html = page(&c, &app, &format!("{base}?sort={key}&dir=desc")).await;
                let mut desc = asc;
                desc.reverse();
                assert_eq!(item_names(&html), desc, "sort={key}&dir=desc");
                assert!(html.contains(" ▼</a>"), "sort={key} desc: arrow");
            }
            // The current column's header link flips the direction.
            let html = page(&c, &app, &format!("{base}?sort=name")).await;
            assert!(html.contains("sort=name&#38;dir=desc") || html.contains("sort=name&amp;dir=desc"), "{html}");
            // An unknown sort key falls back to the default.
            let html = page(&c, &app, &format!("{base}?sort=password&dir=sideways")).await;
            assert_eq!(item_names(&html), ["bravo", "delta", "alpha", "charlie"]);
            // Who wrote each item is shown by name.
            let html = page(&c, &app, &format!("{base}?sort=name")).await;
            let row = html.split("<tr>").find(|r| r.contains(">charlie</a>")).unwrap();
            assert!(row.contains("title=\"bob\">bob</span></td>"), "{row}");
        });
    }
}

backend_test! {
    fn the_project_page_searches_names_and_filters_by_app(db) {
        let app = spawn(&db);
        let p = listing(&app);
        {
            for name in ["Alpha_1", "alpha%2", "ALPHAX3", "alpha\\4"] {
                set(&app, EXAMPLE, name, json!(1), Some(&p), None);
            }
        }
        run(async {
            let c = logged_in(&app, "ann").await;
            let base = format!("/cache/project/{}", p.uuid);
            let search = |q: &str| format!("{base}?q={}&sort=name", sodarcache::web::page::encode_component(q));
            let html = page(&c, &app, &search("ALPHA")).await;
            assert_eq!(item_names(&html), ["ALPHAX3", "Alpha_1", "alpha", "alpha%2", "alpha\\4"]);
            assert!(html.contains("5 items match"));
            // `%`, `_` and `\` are literal, not wildcards.
            // (a bare "_" would also match the app name example_project_app: app names are searched too)
            assert_eq!(item_names(&page(&c, &app, &search("a_")).await), ["Alpha_1"]);
            assert_eq!(item_names(&page(&c, &app, &search("%")).await), ["alpha%2"]);
            assert_eq!(item_names(&page(&c, &app, &search("\\")).await), ["alpha\\4"]);
            assert_eq!(item_names(&page(&c, &app, &search("a_1")).await), ["Alpha_1"]);
            // Surrounding spaces are ignored; the search box keeps the text.
            let html = page(&c, &app, &search("  charlie ")).await;
            assert_eq!(item_names(&html), ["charlie"]);
            assert!(html.contains("name=\"q\" value=\"charlie\""));
            // No match says so.
            let html = page(&c, &app, &search("zzz")).await;
            assert!(item_names(&html).is_empty());
            assert!(html.contains("No items match"));

            // App filter, alone and with a search.
            let html = page(&c, &app, &format!("{base}?app=sodarcache&sort=name")).await;
            assert_eq!(item_names(&html), ["alpha", "charlie"]);
            let html = page(&c, &app, &format!("{base}?app={EXAMPLE}&q=alpha&sort=name")).await;
            assert_eq!(item_names(&html), ["ALPHAX3", "Alpha_1", "alpha%2", "alpha\\4"]);
            assert!(html.contains("<option value=\"example_project_app\" selected>"));
            let html = page(&c, &app, &format!("{base}?app=unknown")).await;
            assert!(item_names(&html).is_empty());

            // Per-app counts are of the whole project, whatever the filter.
            let html = page(&c, &app, &format!("{base}?app=sodarcache")).await;
            assert!(html.contains("example_project_app <span class=\"count\">6</span>"), "{html}");
            assert!(html.contains("sodarcache <span class=\"count\">2</span>"), "{html}");
        });
    }
}

backend_test! {
    fn the_project_page_is_paginated(db) {
        let app = spawn(&db);
        let p = {
            let conn = &mut **app.conn();
            let owner = fx::user(conn, "ann", false);
            let p = fx::project(conn, "Big", None, None);
            fx::role(conn, &p, &owner, Role::Owner);
            p
        };
        let names: Vec<String> = (0..120).map(|i| format!("item-{i:03}")).collect();
        let writes: Vec<CacheWrite<'_>> = names
            .iter()
            .map(|n| CacheWrite {
                app_name: EXAMPLE,
                name: n,
                data: JsonText::from_value(&json!({ "n": n })),
                project: Some(&p),
                user: None,
            })
            .collect();
        assert_eq!(cache(&app).set_cache_items(&writes).unwrap(), 120);
        let expect = |r: std::ops::Range<usize>| names[r].to_vec();
        run(async {
            let c = logged_in(&app, "ann").await;
            let base = format!("/cache/project/{}", p.uuid);
            let html = page(&c, &app, &base).await;
            assert_eq!(item_names(&html), expect(0..50));
            assert!(html.contains("120 items"));
            assert!(html.contains("Page 1 of 3"));
            assert!(html.contains("rel=\"next\"") && !html.contains("rel=\"prev\""));
            let html = page(&c, &app, &format!("{base}?sort=name&page=2")).await;
            assert_eq!(item_names(&html), expect(50..100));
            assert!(html.contains("Page 2 of 3"));
            assert!(html.contains("rel=\"next\"") && html.contains("rel=\"prev\""));
            let html = page(&c, &app, &format!("{base}?sort=name&page=3")).await;
            assert_eq!(item_names(&html), expect(100..120));
            assert!(html.contains("Page 3 of 3") && !html.contains("rel=\"next\""));
            // Descending, page 3 holds the first 20 names, newest-last reversed.
            let html = page(&c, &app, &format!("{base}?sort=name&dir=desc&page=3")).await;
            let mut tail = expect(0..20);
            tail.reverse();
            assert_eq!(item_names(&html), tail);
            // Page links keep the search, sort and direction.
            let html = page(&c, &app, &format!("{base}?q=item-1&sort=name&dir=desc")).await;
            assert_eq!(item_names(&html).len(), 20);
            assert!(!html.contains("rel=\"next\""), "20 matches fit one page");
            let html = page(&c, &app, &format!("{base}?sort=size&dir=desc")).await;
            let next = html.split("rel=\"next\"").next().unwrap();
            let href = &next[next.rfind("href=\"").unwrap()..];
            assert!(href.contains("sort=size") && href.contains("dir=desc") && href.contains("page=2"), "{href}");
            // Out-of-range pages are harmless.
            let html = page(&c, &app, &format!("{base}?sort=name&page=0")).await;
            assert_eq!(item_names(&html), expect(0..50));
            let html = page(&c, &app, &format!("{base}?sort=name&page=-3")).await;
            assert_eq!(item_names(&html), expect(0..50));
            let html = page(&c, &app, &format!("{base}?page=99")).await;
            assert!(item_names(&html).is_empty());
            let (status, _) = get(&c, &app, &format!("{base}?page=9223372036854775807")).await;
            assert_eq!(status, StatusCode::OK);
            // Not a number: page 1 (issue 8), not an error.
            let html = page(&c, &app, &format!("{base}?page=abc")).await;
            assert_eq!(item_names(&html), expect(0..50));
        });
    }
}

backend_test! {
    fn the_project_page_shows_sync_history_and_activity(db) {
        // No plugins: the job may run, but writes nothing.
        let app = TestApp::spawn(&db, PluginRegistry::builder(), |_| {});
        let (p, job) = {
            let conn = &mut **app.conn();
            let ann = fx::user(conn, "ann", false);
            let p = fx::project(conn, "P", None, None);
            fx::role(conn, &p, &ann, Role::Guest);
            let other = fx::project(conn, "Other", None, None);
            Event::record(
                conn,
                &NewEvent {
                    project_id: Some(p.id),
                    user_id: Some(ann.id),
                    event_name: "cache_set",
                    origin: Origin::Api,
                    description: "Set item \"x:y\" <b>bold</b>".into(),
                    ok: false,
                },
            )
            .unwrap();
            Event::record(
                conn,
                &NewEvent {
                    project_id: Some(other.id),
                    user_id: None,
                    event_name: "cache_set",
                    origin: Origin::Cli,
                    description: "Something in another project".into(),
                    ok: true,
                },
            )
            .unwrap();
            let (job, _) = request_sync(conn, Some(&p), None, Origin::Cli, Some(&ann)).unwrap();
            // The server's worker may run it before we look; listed either way.
            (p, job)
        };
        run(async {
            let c = logged_in(&app, "ann").await;
            let html = page(&c, &app, &format!("/cache/project/{}", p.uuid)).await;
            assert!(html.contains(&format!("href=\"/cache/jobs/{}\"", job.uuid)), "{html}");
            assert!(html.contains("by ann via cli"), "{html}");
            let activity = &html[html.find("id=\"activity\"").expect("activity list")..];
            assert!(activity.contains("ann via api"), "{activity}");
            assert!(activity.contains("status-failed"), "failed events are marked");
            assert!(activity.contains("&lt;b&gt;bold") || activity.contains("&#60;b&#62;bold"), "{activity}");
            assert!(!activity.contains("<b>bold"));
            assert!(!html.contains("Something in another project"));
            // A guest sees no buttons, and the empty state says who can fill the cache.
            assert!(!has_id(&html, "sync-project") && !has_id(&html, "delete-project"));
            assert!(html.contains("Items appear when a project owner or delegate runs a sync."));
        });
    }
}

backend_test! {
    fn sync_and_delete_buttons_are_shown_only_to_owner_delegate_and_superuser(db) {
        let app = spawn(&db);
        let (p, item) = {
            let conn = &mut **app.conn();
            let cat = fx::category(conn, "Cat", None);
            let p = fx::project(conn, "P", Some(&cat), Some(PublicAccess::Guest));
            fx::user(conn, "root", true);
            fx::user(conn, "stranger", false);
            for (name, role) in [("owner", Role::Owner), ("delegate", Role::Delegate), ("contributor", Role::Contributor), ("guest", Role::Guest)] {
                let u = fx::user(conn, name, false);
                fx::role(conn, &p, &u, role);
            }
            let catowner = fx::user(conn, "catowner", false);
            fx::role(conn, &cat, &catowner, Role::Owner);
            let item = set(&app, EXAMPLE, "x", json!({}), Some(&p), None);
            (p, item)
        };
        run(async {
            for (who, manage) in [
                ("root", true),
                ("owner", true),
                ("delegate", true),
                ("catowner", true),
                ("contributor", false),
                ("guest", false),
                ("stranger", false),
            ] {
                let c = logged_in(&app, who).await;
                let html = page(&c, &app, &format!("/cache/project/{}", p.uuid)).await;
                assert_eq!(has_id(&html, "sync-project"), manage, "{who}: sync-project");
                assert_eq!(has_id(&html, "delete-project"), manage, "{who}: delete-project");
                let html = page(&c, &app, &format!("/cache/item/{item}")).await;
                assert_eq!(has_id(&html, "delete-item"), manage, "{who}: delete-item");
                assert!(has_id(&html, "download"), "{who}: download");
                let (status, _) = get(&c, &app, &format!("/cache/project/{}/delete", p.uuid)).await;
                assert_eq!(status == StatusCode::OK, manage, "{who}: confirm page ({status})");
                let (status, _) = get(&c, &app, &format!("/cache/item/{item}/delete")).await;
                assert_eq!(status == StatusCode::OK, manage, "{who}: confirm item page ({status})");
                let html = page(&c, &app, "/cache/").await;
                assert_eq!(has_id(&html, "sync-site"), who == "root", "{who}: sync-site");
                let (status, _) = get(&c, &app, "/cache/delete").await;
                assert_eq!(status == StatusCode::OK, who == "root", "{who}: site delete page");
            }
        });
    }
}

backend_test! {
    fn the_item_page_shows_metadata_escaped_json_download_and_curl(db) {
        let app = spawn(&db);
        let data = json!({
            "html": "<script>alert(1)</script>",
            "<img src=x onerror=alert(2)>": ["a & b", "\"quoted\" 'single'"],
            "nested": { "deep": { "deeper": true } },
            "n": 42,
            "none": null,
        });
        let (p, item, site_item) = {
            let conn = &mut **app.conn();
            let ann = fx::user(conn, "ann", false);
            fx::user(conn, "root", true);
            let p = fx::project(conn, "Proj", None, None);
            fx::role(conn, &p, &ann, Role::Guest);
            let item = set(&app, EXAMPLE, "summary <b>x</b>", data.clone(), Some(&p), Some(&ann));
            let site_item = set(&app, EXAMPLE, "site thing", json!({ "k": "v" }), None, None);
            (p, item, site_item)
        };
        run(async {
            let c = logged_in(&app, "ann").await;
            let html = page(&c, &app, &format!("/cache/item/{item}")).await;
            // Metadata.
            assert!(html.contains(&format!("<code>{item}</code>")));
            assert!(html.contains("<dt>Written by</dt><dd>ann</dd>"), "{html}");
            assert!(html.contains("<dt>App</dt><dd>example_project_app</dd>"));
            assert!(html.contains(&format!("href=\"/cache/project/{}\">Proj</a>", p.uuid)));
            let size = &html[html.find("<dt>Size</dt>").expect("size")..];
            let size = &size[size.find("\">").expect("dd") + 2..];
            let size = &size[..size.find("</dd>").unwrap()];
            assert!(size.ends_with(" bytes") && size.trim_end_matches(" bytes").parse::<u32>().unwrap() > 100, "{size}");
            // The JSON is shown as text, never as markup.
            assert!(!html.contains("<script>alert"), "{html}");
            assert!(!html.contains("<img src=x"), "{html}");
            assert!(!html.contains("<b>x</b>"), "{html}");
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
            assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"), "{html}");
            assert!(html.contains("a &amp; b"));
            assert!(html.contains("<span class=\"v-num\">42</span>"));
            assert!(html.contains("<span class=\"v-null\">null</span>"));
            // A collapsible tree without JavaScript.
            assert!(html.contains("<details open><summary>"));
            assert!(html.contains("<details><summary><span class=\"key\">deeper</span>") || html.contains("<span class=\"key\">deep</span>"));
            // The curl line calls the REST retrieve with the versioned Accept header.
            let curl = &html[html.find("id=\"curl\">").expect("curl line")..];
            let curl = &curl[..curl.find("</code>").unwrap()];
            assert!(curl.contains("Accept: application/vnd.bihealth.sodar-core.sodarcache+json; version="), "{curl}");
            assert!(curl.contains("Authorization: token "), "{curl}");
            assert!(curl.contains(&format!("/cache/api/retrieve/{}/example_project_app/summary%20%3Cb%3Ex%3C%2Fb%3E", p.uuid)), "{curl}");
            assert!(curl.contains(&app.addr.replace("http://", "")), "{curl}");

            // The download is the raw JSON as an attachment.
            let resp = c.get(app.url(&format!("/cache/item/{item}/download"))).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
            let cd = resp.headers()["content-disposition"].to_str().unwrap().to_owned();
            assert!(cd.starts_with("attachment"), "{cd}");
            assert!(cd.contains("filename=") && cd.contains(".json") && !cd.contains('<'), "{cd}");
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body, data);

            // A site-wide item (for superusers) has no curl line (the REST API is per project).
            let root = logged_in(&app, "root").await;
            let html = page(&root, &app, &format!("/cache/item/{site_item}")).await;
            assert!(!has_id(&html, "curl"));
            assert!(html.contains("href=\"/cache/site\">Site-wide items</a>"));
        });
    }
}

/// Polls the job row until it has ended (bounded).
async fn wait_finished(app: &TestApp, uuid: uuid::Uuid) -> SyncJob {
    poll(Duration::from_secs(15), || {
        SyncJob::find_by_uuid(&mut app.conn(), uuid)
            .unwrap()
            .filter(SyncJob::is_finished)
    })
    .await
    .expect("job ended within 15 s")
}

backend_test! {
    fn job_pages_show_status_and_refresh_only_while_running(db) {
        // The plugin waits for the gate: the job stays unfinished while the test looks.
        let gate = Gate::new();
        let app = TestApp::spawn(&db, PluginRegistry::builder().project_app(TestPlugin::writes("slow_app", "slow").gated(&gate)), |_| {});
        let (p, hidden) = {
            let conn = &mut **app.conn();
            let ann = fx::user(conn, "ann", false);
            fx::user(conn, "eve", false);
            fx::user(conn, "root", true);
            let p = fx::project(conn, "Synced", None, None);
            fx::role(conn, &p, &ann, Role::Owner);
            let hidden = fx::project(conn, "Hidden", None, None);
            (p, hidden)
        };
        run(async {
            let c = logged_in(&app, "ann").await;
            let html = page(&c, &app, "/cache/jobs").await;
            assert!(html.contains("No sync jobs yet."));
            let resp = post_csrf(&c, &app, &format!("/cache/project/{}/sync", p.uuid), &[]).await;
            let job_path = location(&resp);
            let uuid: uuid::Uuid = job_path.strip_prefix("/cache/jobs/").expect("job page").parse().unwrap();
            // While it is queued or running, the page refreshes itself.
            let html = page(&c, &app, &job_path).await;
            assert!(html.contains("<meta http-equiv=\"refresh\""), "{html}");
            assert!(html.contains("This page refreshes itself"));
            assert!(html.contains("Sync queued.") || html.contains("already queued"), "flash: {html}");
            gate.open();
            let job = wait_finished(&app, uuid).await;
            assert_eq!(job.status, JobStatus::Done);
            let html = page(&c, &app, &job_path).await;
            assert!(!html.contains("http-equiv=\"refresh\""), "{html}");
            assert!(html.contains("id=\"job-status\">done</span>"), "{html}");
            assert!(html.contains("by ann via web"));
            let runs = &html[html.find("id=\"plugin-runs\"").expect("plugin runs")..];
            assert!(runs.contains(">slow_app</td>") && runs.contains("status-done\">ok"), "{runs}");
            assert!(runs.contains("<td class=\"num\">1</td>"), "items written: {runs}");
            // The list shows it with its scope, requester and origin.
            let html = page(&c, &app, "/cache/jobs").await;
            assert!(html.contains(&format!("href=\"/cache/jobs/{uuid}\"")));
            assert!(html.contains("title=\"Synced\">Synced</a></td>") && html.contains("title=\"ann\">ann</span>") && html.contains("<td>web</td>"), "{html}");

            // Jobs of projects the user cannot read are not shown to them; whole-site jobs
            // are (they cover the user's projects), but not linked: their page is 403.
            let (hidden_job, site_job) = {
                let conn = &mut **app.conn();
                let (h, _) = request_sync(conn, Some(&hidden), None, Origin::Cli, None).unwrap();
                let (s, _) = request_sync(conn, None, None, Origin::Cli, None).unwrap();
                (h, s)
            };
            let html = page(&c, &app, "/cache/jobs").await;
            assert!(!html.contains(&hidden_job.uuid.to_string()), "{html}");
            assert!(html.contains(&format!("data-job=\"{}\"", site_job.uuid)), "{html}");
            assert!(!html.contains(&format!("href=\"/cache/jobs/{}\"", site_job.uuid)), "{html}");
            let (status, _) = get(&c, &app, &format!("/cache/jobs/{}", hidden_job.uuid)).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let (status, _) = get(&c, &app, &format!("/cache/jobs/{}", site_job.uuid)).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let eve = logged_in(&app, "eve").await;
            let (status, _) = get(&eve, &app, &job_path).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            // A superuser sees them all.
            let root = logged_in(&app, "root").await;
            let html = page(&root, &app, "/cache/jobs").await;
            for u in [uuid, hidden_job.uuid.0, site_job.uuid.0] {
                assert!(html.contains(&u.to_string()), "root sees {u}");
            }
            let html = page(&root, &app, &format!("/cache/jobs/{}", site_job.uuid)).await;
            assert!(html.contains("Whole site"));
            wait_finished(&app, hidden_job.uuid.0).await;
            wait_finished(&app, site_job.uuid.0).await;
        });
    }
}

backend_test! {
    fn a_failed_plugin_shows_its_error_on_the_job_page(db) {
        let app = TestApp::spawn(&db, PluginRegistry::builder().project_app(TestPlugin::fails("broken_app", "source <unreachable> & down")).project_app(ExampleProjectApp), |_| {});
        let p = {
            let conn = &mut **app.conn();
            let ann = fx::user(conn, "ann", false);
            let p = fx::project(conn, "P", None, None);
            fx::role(conn, &p, &ann, Role::Owner);
            p
        };
        run(async {
            let c = logged_in(&app, "ann").await;
            let resp = post_csrf(&c, &app, &format!("/cache/project/{}/sync", p.uuid), &[]).await;
            let job_path = location(&resp);
            let uuid = job_path.strip_prefix("/cache/jobs/").unwrap().parse().unwrap();
            assert_eq!(wait_finished(&app, uuid).await.status, JobStatus::Failed);
            let html = page(&c, &app, &job_path).await;
            assert!(!html.contains("http-equiv=\"refresh\""));
            assert!(html.contains("id=\"job-status\">failed</span>"), "{html}");
            assert!(html.contains("source &lt;unreachable&gt; &amp; down") || html.contains("source &#60;unreachable&#62; &#38; down"), "{html}");
            assert!(html.contains(">example_project_app</td>"));
            // The overview shows the last sync outcome.
            let html = page(&c, &app, "/cache/").await;
            assert!(html.contains(&format!("href=\"/cache/jobs/{uuid}\"><span class=\"status status-failed\">failed</span>")), "{html}");
        });
    }
}
