//! Small things an admin notices on the first day, on both backends: tab titles that
//! name the project, item or job; counts with thousands separators; empty states that
//! tell the truth (no advice to press a button that is not there).

mod common;
#[path = "common/web.rs"]
mod web;

use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::fixtures as fx;
use common::scale::{self, UMLAUT_ITEM};
use common::{TestApp, TestDb};
use web::*;

/// The text of the page's `<title>`.
fn title(html: &str) -> String {
    let start = html.find("<title>").expect("a title") + "<title>".len();
    html[start..start + html[start..].find("</title>").expect("title end")].to_owned()
}

fn scale_site(db: &TestDb) -> (TestApp, scale::Scale) {
    let app = TestApp::spawn(db, scale::server_plugins(), |_| {});
    let s = scale::build(db, &app);
    (app, s)
}

backend_test! {
    fn tab_titles_name_the_project_the_item_and_the_job(db) {
        let (app, s) = scale_site(&db);
        let job = scale::newest_job(&mut app.conn());
        let umlaut = sodarcache::db::models::CacheItem::list_for_scope(
            &mut app.conn(),
            sodarcache::db::Scope::Project(s.big.id),
        )
        .unwrap()
        .into_iter()
        .find(|i| i.name == UMLAUT_ITEM)
        .expect("the umlaut item");
        run(async {
            let c = logged_in(&app, "root").await;
            let t = title(&page(&c, &app, &format!("/cache/project/{}", s.big.uuid)).await);
            assert!(t.starts_with(&s.big.title) && t.ends_with(" · sodarcache"), "{t}");
            let item_html = page(&c, &app, &format!("/cache/item/{}", umlaut.uuid)).await;
            // Without the script the exact time is visible text, in UTC (the script
            // turns it into local time: tests/browser.rs).
            let exact = &item_html[item_html.find("<time class=\"exact\"").expect("exact time")..];
            assert!(exact[..exact.find("</time>").unwrap()].ends_with(" UTC"), "{}", &exact[..80]);
            let t = title(&item_html);
            assert_eq!(
                t,
                format!("{UMLAUT_ITEM} · example_project_app · {} · sodarcache", s.big.full_title)
            );
            let t = title(&page(&c, &app, &format!("/cache/jobs/{job}")).await);
            assert!(t.starts_with("Sync of ") && t.len() > "Sync of  · sodarcache".len(), "{t}");
            let t = title(&page(&c, &app, &format!("/cache/jobs?project={}", s.big.uuid)).await);
            assert!(t.contains(&s.big.title), "{t}");
            assert_eq!(title(&page(&c, &app, "/cache/").await), "Cache overview · sodarcache");
        });
    }
}

backend_test! {
    fn counts_have_thousands_separators(db) {
        let (app, s) = scale_site(&db);
        run(async {
            let c = logged_in(&app, "root").await;
            let html = page(&c, &app, &format!("/cache/project/{}", s.big.uuid)).await;
            let total = strip_tags(&html[html.find("id=\"total\"").expect("total")..]);
            assert!(total.starts_with(">2,011 items") || total.contains("2,011 items"), "{}", &total[..40]);
            let chips = strip_tags(&html[html.find("class=\"chips\"").expect("chips")..]);
            assert!(chips.contains("1,200"), "{}", &chips[..200]);
            let confirm = page(&c, &app, &format!("/cache/project/{}/delete", s.big.uuid)).await;
            assert!(strip_tags(&confirm).contains("2,011"), "the confirmation page counts with separators");
            assert!(!strip_tags(&confirm).contains("2011 "), "no count without separators");
        });
    }
}

backend_test! {
    fn a_fresh_site_tells_a_superuser_what_to_do_with_buttons_that_exist(db) {
        let app = TestApp::spawn(&db, PluginRegistry::builder().project_app(ExampleProjectApp), |_| {});
        fx::user(&mut app.conn(), "root", true);
        run(async {
            let c = logged_in(&app, "root").await;
            let overview = page(&c, &app, "/cache/").await;
            assert!(overview.contains("There are no projects yet."), "{overview}");
            assert!(!overview.contains("Ask a project"), "no advice to ask someone else");
            assert!(has_id(&overview, "sync-site"), "the sync button the advice names is there");
            let jobs = page(&c, &app, "/cache/jobs").await;
            assert!(jobs.contains("No sync jobs yet."));
            assert!(jobs.contains("<strong>Sync whole site</strong> on the overview"));
            let site = page(&c, &app, "/cache/site").await;
            assert!(site.contains("Nothing is cached here yet."));
            assert!(!site.contains("Press <strong>Sync now</strong>"), "the site page has no Sync now button");
            assert!(site.contains("<strong>Sync whole site</strong> on the overview"));
        });
    }
}
