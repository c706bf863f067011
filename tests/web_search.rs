//! Search on the project page: case-insensitive for all of Unicode, over item and app
//! names, with the same results on SQLite and PostgreSQL; chip counts follow the
//! search and chip links keep it; rows written before the search keys existed are
//! found after the start-up backfill.

mod common;
#[path = "common/web.rs"]
mod web;

use diesel::prelude::*;
use serde_json::json;
use sodarcache::db::models::{Project, Role};
use sodarcache::db::schema::cache_items;
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::TestApp;
use common::fixtures as fx;
use common::plugins::TestPlugin;
use web::*;

const NAMES: [(&str, &str); 8] = [
    ("example_project_app", "Übersicht Ärzte"),
    ("example_project_app", "uebersicht"),
    ("example_project_app", "STRASSE"),
    ("example_project_app", "Straße"),
    ("example_project_app", "ΣΟΦΟΣ"),
    ("samplesheets", "σοφός"),
    ("samplesheets", "Данные"),
    ("samplesheets", "plain"),
];

fn spawn(db: &common::TestDb) -> (TestApp, Project) {
    let app = TestApp::spawn(
        db,
        PluginRegistry::builder()
            .project_app(ExampleProjectApp)
            .project_app(TestPlugin::noop("samplesheets")),
        |_| {},
    );
    let p = {
        let conn = &mut *app.conn();
        let ann = fx::user(conn, "ann", false);
        let p = fx::project(conn, "Search", None, None);
        fx::role(conn, &p, &ann, Role::Guest);
        p
    };
    let cache = app.registry.cache().unwrap();
    for (app_name, name) in NAMES {
        cache
            .set_cache_item(app_name, name, &json!(1), "json", Some(&p), None)
            .unwrap();
    }
    (app, p)
}

async fn found(c: &reqwest::Client, app: &TestApp, p: &Project, q: &str) -> Vec<String> {
    let html = page(
        c,
        app,
        &format!(
            "/cache/project/{}?sort=name&q={}",
            p.uuid,
            sodarcache::web::page::encode_component(q)
        ),
    )
    .await;
    let mut names = item_names(&html);
    names.sort();
    names
}

backend_test! {
    fn search_is_case_insensitive_for_all_of_unicode_on_both_backends(db) {
        let (app, p) = spawn(&db);
        run(async {
            let c = logged_in(&app, "ann").await;
            for q in ["übersicht", "Übersicht", "ÜBERSICHT", "ärzte", "ÄRZTE", "t ä"] {
                assert_eq!(found(&c, &app, &p, q).await, ["Übersicht Ärzte"], "q={q}");
            }
            assert_eq!(found(&c, &app, &p, "strasse").await, ["STRASSE", "Straße"]);
            assert_eq!(found(&c, &app, &p, "STRAßE").await, ["STRASSE", "Straße"]);
            // Accents are not folded away: only the unaccented name matches.
            assert_eq!(found(&c, &app, &p, "σοφοσ").await, ["ΣΟΦΟΣ"]);
            assert_eq!(found(&c, &app, &p, "σοφός").await, ["σοφός"]);
            assert_eq!(found(&c, &app, &p, "ДАННЫЕ").await, ["Данные"]);
            // App names are searched too.
            assert_eq!(found(&c, &app, &p, "SAMPLESHEETS").await, ["plain", "σοφός", "Данные"]);
            assert_eq!(found(&c, &app, &p, "zzz").await, Vec::<String>::new());
        });
    }
}

backend_test! {
    fn chip_counts_follow_the_search_and_chips_keep_search_and_sort(db) {
        let (app, p) = spawn(&db);
        run(async {
            let c = logged_in(&app, "ann").await;
            let base = format!("/cache/project/{}", p.uuid);
            let html = page(&c, &app, &format!("{base}?q=s&sort=size&dir=desc")).await;
            // "s" matches every samplesheets item by app name, and four others by name
            // (Straße folds to strasse).
            assert!(html.contains("example_project_app <span class=\"count\">4</span>"), "{html}");
            assert!(html.contains("samplesheets <span class=\"count\">3</span>"), "{html}");
            assert!(html.contains("7 items match"), "{html}");
            let chip = format!("href=\"{base}?q=s&amp;sort=size&amp;dir=desc&amp;app=samplesheets\"");
            let chip_alt = format!("href=\"{base}?q=s&#38;sort=size&#38;dir=desc&#38;app=samplesheets\"");
            assert!(html.contains(&chip) || html.contains(&chip_alt), "{html}");
            // Following the chip: search, sort and app together.
            let html = page(&c, &app, &format!("{base}?q=s&sort=name&app=samplesheets")).await;
            assert_eq!(item_names(&html).len(), 3);
            assert!(html.contains("aria-current=\"page\">samplesheets") || html.contains("title=\"samplesheets\" aria-current=\"page\""), "{html}");
            // An app the search leaves empty stays selectable, with 0.
            let html = page(&c, &app, &format!("{base}?q=straße&app=samplesheets")).await;
            assert!(html.contains("samplesheets <span class=\"count\">0</span>"), "{html}");
            assert!(html.contains("No items match"), "{html}");
        });
    }
}

backend_test! {
    fn rows_without_search_keys_are_found_and_filled_at_start_up(db) {
        let (app, p) = spawn(&db);
        // As if written before the migration (or by an older server).
        diesel::update(cache_items::table)
            .set((cache_items::name_fold.eq(None::<String>), cache_items::app_fold.eq(None::<String>)))
            .execute(&mut **app.conn())
            .unwrap();
        run(async {
            let c = logged_in(&app, "ann").await;
            // Until the backfill, ASCII still matches through lower().
            assert_eq!(found(&c, &app, &p, "PLAIN").await, ["plain"]);
        });
        let filled = sodarcache::db::migrate(&mut app.conn()).unwrap();
        assert_eq!(filled, 0, "no migration was pending");
        let missing: i64 = cache_items::table
            .filter(cache_items::name_fold.is_null().or(cache_items::app_fold.is_null()))
            .count()
            .get_result(&mut **app.conn())
            .unwrap();
        assert_eq!(missing, 0, "every row got its keys");
        run(async {
            let c = logged_in(&app, "ann").await;
            assert_eq!(found(&c, &app, &p, "ÜBERSICHT").await, ["Übersicht Ärzte"]);
        });
    }
}
