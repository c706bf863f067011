//! Bulk deletes on the project page, on the scale fixture and both backends: the form
//! contract of `POST /cache/project/{uuid}/delete` (`item` fields, or `q` and `app`,
//! the confirmation page first, `confirm=yes` deletes exactly those items), today's
//! form unchanged, apps that are no longer installed, and the site-wide page.

mod common;
#[path = "common/web.rs"]
mod web;

use diesel::prelude::*;
use reqwest::StatusCode;
use sodarcache::cache::CacheWrite;
use sodarcache::db::JsonText;
use sodarcache::db::models::{Event, Project};
use sodarcache::db::schema::{cache_items, events};

use common::scale::{self, Scale};
use common::{TestApp, TestDb};
use web::*;

fn site(db: &TestDb) -> (TestApp, Scale) {
    let app = TestApp::spawn(db, scale::server_plugins(), |_| {});
    let scale = scale::build(db, &app);
    (app, scale)
}

/// Items of `p` (none: the site's), not the rows of a deleted cache still to be purged.
fn count(app: &TestApp, p: Option<&Project>) -> i64 {
    let q = cache_items::table
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            common::rows::LIVE,
        ))
        .into_boxed();
    let q = match p {
        Some(p) => q.filter(cache_items::project_id.eq(p.id)),
        None => q.filter(cache_items::project_id.is_null()),
    };
    q.count().get_result(&mut **app.conn()).unwrap()
}

/// UUID and name of the first `n` items of `app_name` in `p`, by name.
fn items(app: &TestApp, p: &Project, app_name: &str, n: i64) -> Vec<(String, String)> {
    cache_items::table
        .filter(cache_items::project_id.eq(p.id))
        .filter(cache_items::app_name.eq(app_name))
        .order(cache_items::name)
        .select((cache_items::uuid, cache_items::name))
        .limit(n)
        .load::<(sodarcache::db::DbUuid, String)>(&mut **app.conn())
        .unwrap()
        .into_iter()
        .map(|(u, n)| (u.to_string(), n))
        .collect()
}

fn delete_events(app: &TestApp, p: &Project) -> Vec<String> {
    events::table
        .filter(events::project_id.eq(p.id))
        .filter(events::event_name.eq("cache_delete"))
        .select(Event::as_select())
        .load::<Event>(&mut **app.conn())
        .unwrap()
        .into_iter()
        .map(|e| e.description)
        .collect()
}

backend_test! {
    fn selected_items_go_through_the_confirmation_page_and_exactly_they_are_deleted(db) {
        let (app, scale) = site(&db);
        let big = &scale.big;
        let before = count(&app, Some(big));
        let chosen = items(&app, big, "samplesheets", 3);
        run(async {
            let c = logged_in(&app, "owner").await;
            let path = format!("/cache/project/{}/delete", big.uuid);
            let fields: Vec<(&str, &str)> = chosen.iter().map(|(u, _)| ("item", u.as_str())).collect();
            // Without confirm=yes: the confirmation page, and nothing deleted.
            let resp = post_csrf(&c, &app, &path, &fields).await;
            assert_eq!(resp.status(), StatusCode::OK);
            let html = resp.text().await.unwrap();
            assert!(html.contains("<h1>Delete 3 items?</h1>"), "{html}");
            for (_, name) in &chosen {
                assert!(html.contains(name.as_str()), "{name} listed");
            }
            assert!(html.contains("name=\"confirm\" value=\"yes\""));
            assert_eq!(count(&app, Some(big)), before, "nothing deleted yet");
            // The page's form, as the browser submits it.
            let token = csrf(&html);
            let mut confirm: Vec<(&str, &str)> = vec![("csrf_token", token.as_str()), ("confirm", "yes")];
            confirm.extend(fields.iter().copied());
            let resp = post(&c, &app, &path, &confirm).await;
            assert_redirect_to(&resp, &format!("/cache/project/{}", big.uuid));
            assert_eq!(count(&app, Some(big)), before - 3);
            let left = items(&app, big, "samplesheets", 600);
            assert!(chosen.iter().all(|c| !left.contains(c)), "exactly the chosen ones went");
            assert_eq!(left.len(), 497);
            let logged = delete_events(&app, big);
            assert_eq!(logged.len(), 1, "one activity entry: {logged:?}");
            assert!(logged[0].starts_with("Deleted 3 cached data items (selected) from project"), "{logged:?}");
        });
    }
}

backend_test! {
    fn a_post_with_item_fields_never_deletes_the_whole_project(db) {
        let (app, scale) = site(&db);
        let big = &scale.big;
        let other = &scale.projects[1];
        let before = count(&app, Some(big));
        let foreign = items(&app, other, "example_project_app", 1);
        run(async {
            let c = logged_in(&app, "owner").await;
            let path = format!("/cache/project/{}/delete", big.uuid);
            // Another project's item, confirmed: nothing here, nothing there.
            let resp = post_csrf(&c, &app, &path, &[("item", &foreign[0].0), ("confirm", "yes")]).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            assert_eq!(count(&app, Some(big)), before);
            assert_eq!(count(&app, Some(other)), 1);
            // Not a UUID: a 400, nothing deleted.
            for bad in ["nope", "", "1"] {
                let resp = post_csrf(&c, &app, &path, &[("item", bad), ("confirm", "yes")]).await;
                assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "item={bad:?}");
                assert!(resp.text().await.unwrap().contains("Not a valid item UUID"));
            }
            // The checkbox form with nothing ticked: a 400, not today's form.
            let resp = post_csrf(&c, &app, &path, &[("selection", "items"), ("confirm", "yes")]).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
            assert_eq!(count(&app, Some(big)), before);
            // Without the CSRF token: 403.
            let resp = post(&c, &app, &path, &[("item", &foreign[0].0)]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            assert_eq!(count(&app, Some(big)), before);
        });
    }
}

backend_test! {
    fn all_matching_items_are_listed_up_to_a_hundred_then_deleted(db) {
        let (app, scale) = site(&db);
        let big = &scale.big;
        let before = count(&app, Some(big));
        run(async {
            let c = logged_in(&app, "owner").await;
            let path = format!("/cache/project/{}/delete", big.uuid);
            // The project page offers it for the current search and app.
            let html = page(&c, &app, &format!("/cache/project/{}?q=IRODS", big.uuid)).await;
            assert!(html.contains("Delete all 306 matching…"), "{html}");
            let resp = post_csrf(&c, &app, &path, &[("q", "IRODS")]).await;
            let html = resp.text().await.unwrap();
            assert!(html.contains("<h1>Delete 306 items?</h1>"), "{html}");
            let listed = html.split("id=\"delete-names\"").nth(1).unwrap().split("</ul>").next().unwrap().matches("<li>").count();
            assert_eq!(listed, 100);
            assert!(html.contains("and 206 more"), "{html}");
            assert_eq!(count(&app, Some(big)), before);
            let resp = post_csrf(&c, &app, &path, &[("q", "IRODS"), ("confirm", "yes")]).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            assert_eq!(count(&app, Some(big)), before - 306);
            // Search and app together: only that app's matches.
            let resp = post_csrf(&c, &app, &path, &[("q", "item 1"), ("app", "samplesheets"), ("confirm", "yes")]).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            let expect = (0..500).filter(|i| format!("samplesheets item {i}").contains("item 1")).count() as i64;
            assert_eq!(count(&app, Some(big)), before - 306 - expect);
            let logged = delete_events(&app, big);
            assert_eq!(logged.len(), 2, "{logged:?}");
            assert!(logged.iter().any(|l| l.contains(&format!("Deleted {expect} cached data items matching \"item 1\" of app \"samplesheets\""))), "{logged:?}");
        });
    }
}

backend_test! {
    fn one_app_no_longer_installed_can_be_deleted_and_todays_form_still_works(db) {
        let (app, scale) = site(&db);
        let big = &scale.big;
        let before = count(&app, Some(big));
        run(async {
            let c = logged_in(&app, "owner").await;
            // The confirmation page for one app counts that app.
            let html = page(&c, &app, &format!("/cache/project/{}/delete?app=samplesheets", big.uuid)).await;
            assert!(html.contains("This deletes the 500 items of app <strong>samplesheets</strong>"), "{html}");
            let html = page(&c, &app, &format!("/cache/project/{}/delete", big.uuid)).await;
            assert!(html.contains(&format!("This deletes all {} items", sodarcache::web::format::count(before))), "{html}");
            assert!(html.contains(&format!("{} (5)", scale::UNINSTALLED)), "offered: {html}");
            // Today's form with the uninstalled app: its five items go, nothing else.
            let path = format!("/cache/project/{}/delete", big.uuid);
            let resp = post_csrf(&c, &app, &path, &[("app", scale::UNINSTALLED)]).await;
            assert_redirect_to(&resp, &format!("/cache/project/{}", big.uuid));
            assert_eq!(count(&app, Some(big)), before - 5);
            // Today's form without fields: the whole project, at once.
            let resp = post_csrf(&c, &app, &path, &[]).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            assert_eq!(count(&app, Some(big)), 0);
            // A guest may do none of it.
            let g = logged_in(&app, "guest").await;
            let resp = post_csrf(&g, &app, &format!("/cache/project/{}/delete", scale.guest_project.uuid), &[("q", "")]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        });
    }
}

backend_test! {
    fn superusers_bulk_delete_site_wide_items(db) {
        let (app, _scale) = site(&db);
        let names: Vec<String> = (0..4).map(|i| format!("site item {i}")).collect();
        let writes: Vec<CacheWrite<'_>> = names
            .iter()
            .map(|n| CacheWrite { app_name: "samplesheets", name: n, data: JsonText::from_value(&serde_json::json!(1)), project: None, user: None })
            .collect();
        app.registry.cache().unwrap().set_cache_items(&writes).unwrap();
        let projects_before: i64 = cache_items::table.filter(cache_items::project_id.is_not_null()).count().get_result(&mut **app.conn()).unwrap();
        run(async {
            let owner = logged_in(&app, "owner").await;
            let (status, html) = get(&owner, &app, "/cache/site").await;
            assert!(status == StatusCode::FORBIDDEN || !has_id(&html, "bulk-form"), "no checkboxes for others");
            let resp = post_csrf(&owner, &app, "/cache/site/delete", &[("q", "")]).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            let root = logged_in(&app, "root").await;
            let html = page(&root, &app, "/cache/site").await;
            assert!(has_id(&html, "bulk-form") && html.contains("action=\"/cache/site/delete\""), "{html}");
            // Without fields: every site-wide item, after the confirmation page.
            let resp = post_csrf(&root, &app, "/cache/site/delete", &[]).await;
            assert_eq!(resp.status(), StatusCode::OK);
            assert!(resp.text().await.unwrap().contains("<h1>Delete 4 items?</h1>"));
            assert_eq!(count(&app, None), 4);
            let resp = post_csrf(&root, &app, "/cache/site/delete", &[("q", "item 1"), ("confirm", "yes")]).await;
            assert_redirect_to(&resp, "/cache/site");
            assert_eq!(count(&app, None), 3);
            let resp = post_csrf(&root, &app, "/cache/site/delete", &[("confirm", "yes")]).await;
            assert_redirect_to(&resp, "/cache/site");
            assert_eq!(count(&app, None), 0);
            let projects_after: i64 = cache_items::table.filter(cache_items::project_id.is_not_null()).count().get_result(&mut **app.conn()).unwrap();
            assert_eq!(projects_after, projects_before, "projects' items untouched");
        });
    }
}
