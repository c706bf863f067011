//! The stored preview of a large item (issue 8), over HTTP on both backends: the item
//! page of an item over the whole-tree limit is drawn from the preview written with
//! the item (never from the whole value) and says where it is cut, the download is
//! the whole document, and every write path (library, bulk, REST set, plugin set,
//! set_raw and batch) keeps the preview that of the current data.

mod common;
#[path = "common/web.rs"]
mod web;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::prelude::*;
use serde_json::value::RawValue;
use sodarcache::cache::{CacheWrite, PREVIEW_ABOVE_BYTES, PREVIEW_BYTES};
use sodarcache::db::models::{Project, Role};
use sodarcache::db::schema::{cache_item_data, cache_item_previews, cache_items};
use sodarcache::db::{DbConn, DbUuid, JsonText};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::plugins::FnPlugin;
use common::{TestApp, fixtures as fx};
use web::{logged_in, page, run};

const EXAMPLE: &str = "example_project_app";

fn spawn(db: &common::TestDb, plugins: sodarcache::plugins::RegistryBuilder) -> (TestApp, Project) {
    let app = TestApp::spawn(db, plugins, |_| {});
    let p = {
        let conn = &mut **app.conn();
        let ann = fx::user(conn, "ann", false);
        fx::user(conn, "root", true);
        let p = fx::project(conn, "Proj", None, None);
        fx::role(conn, &p, &ann, Role::Guest);
        p
    };
    (app, p)
}

/// A document of about 4.6 MB (over the whole-tree limit) whose first key is
/// `header: tag`, with non-ASCII text throughout so the cut meets multi-byte letters.
fn big(tag: &str) -> String {
    let rows: Vec<String> = (0..60_000)
        .map(|i| format!(r#"{{"row": {i}, "gene": "BRCA{i}", "note": "Übersicht Ärzte {i} …"}}"#))
        .collect();
    let text = format!(r#"{{"header": "{tag}", "rows": [{}]}}"#, rows.join(","));
    assert!(text.len() as i64 > PREVIEW_ABOVE_BYTES, "{}", text.len());
    text
}

/// Whether the tree's root draws `header: "tag"`.
fn shows_header(html: &str, tag: &str) -> bool {
    let tree = &html[html.find("id=\"json-tree\"").expect("the tree")..];
    tree.contains(&format!(
        "<span class=\"key\">header</span>: <span class=\"v-str\">\"{tag}\"</span>"
    ))
}

fn item_id(conn: &mut DbConn, uuid: &str) -> i64 {
    cache_items::table
        .filter(cache_items::uuid.eq(DbUuid(uuid.parse().unwrap())))
        .select(cache_items::id)
        .first(conn)
        .expect("the item")
}

/// The stored preview of item `uuid` and the hash it carries, if it has one.
fn stored_preview(app: &TestApp, uuid: &str) -> Option<(String, String)> {
    let conn = &mut **app.conn();
    let id = item_id(conn, uuid);
    cache_item_previews::table
        .filter(cache_item_previews::item_id.eq(id))
        .select((
            cache_item_previews::data_sha256,
            cache_item_previews::preview,
        ))
        .first(conn)
        .optional()
        .unwrap()
}

fn uuid_of(app: &TestApp, p: &Project, app_name: &str, name: &str) -> String {
    app.registry
        .cache_unchecked()
        .get_cache_item(app_name, name, Some(p))
        .unwrap()
        .expect("the item")
        .uuid
        .to_string()
}

backend_test! {
    fn a_large_items_page_is_drawn_from_its_stored_preview_and_says_where_it_is_cut(db) {
        let (app, p) = spawn(&db, PluginRegistry::builder().project_app(ExampleProjectApp));
        let text = big("first");
        let data = JsonText::parse(&text).unwrap();
        let written = app.registry.cache_unchecked()
            .set_cache_item_json(EXAMPLE, "huge", &data, Some(&p), None).unwrap();
        let uuid = written.uuid.to_string();

        // Stored with the item: the first MiB, cut at a character boundary.
        let (sha, preview) = stored_preview(&app, &uuid).expect("a stored preview");
        assert_eq!(Some(sha), written.data_sha256, "tagged with the hash of the data it was cut from");
        assert!(preview.len() <= PREVIEW_BYTES && preview.len() > PREVIEW_BYTES - 4, "{}", preview.len());
        assert!(text.starts_with(&preview));

        run(async {
            let c = logged_in(&app, "ann").await;
            let html = page(&c, &app, &format!("/cache/item/{uuid}")).await;
            assert!(shows_header(&html, "first"));
            let note = &html[html.find("id=\"json-note\"").expect("a note that says it is cut")..];
            assert!(note.starts_with("id=\"json-note\">This is a preview of the first 1.0 MB of 4."), "{}", &note[..200]);
            assert!(note.contains(&format!("href=\"/cache/item/{uuid}/download\"")));
            assert!(html.contains("the preview ends"), "the tree marks where the preview ends");

            // The page draws the stored preview, not the value: change the preview alone.
            {
                let conn = &mut **app.conn();
                let id = item_id(conn, &uuid);
                diesel::update(cache_item_previews::table.filter(cache_item_previews::item_id.eq(id)))
                    .set(cache_item_previews::preview.eq(r#"{"header": "from the stored preview", "rows": [1, 2"#))
                    .execute(conn)
                    .unwrap();
            }
            let html = page(&c, &app, &format!("/cache/item/{uuid}")).await;
            assert!(shows_header(&html, "from the stored preview"));
            assert!(!shows_header(&html, "first"));

            // The download is the whole document, as stored.
            let body = c.get(app.url(&format!("/cache/item/{uuid}/download"))).send().await.unwrap()
                .text().await.unwrap();
            assert_eq!(body, text, "the download is all of it");
        });
    }
}

backend_test! {
    fn every_write_path_replaces_the_preview_and_a_small_item_drops_it(db) {
        let (app, p) = spawn(&db, PluginRegistry::builder().project_app(ExampleProjectApp));
        let cache = app.registry.cache_unchecked();
        let root_token = {
            let conn = &mut **app.conn();
            let root = sodarcache::db::models::User::find_by_username(conn, "root").unwrap().unwrap();
            sodarcache::auth::token::create(conn, &root, None).unwrap()
        };
        // Library write.
        cache.set_cache_item_json(EXAMPLE, "item", &JsonText::parse(&big("library")).unwrap(), Some(&p), None).unwrap();
        let uuid = uuid_of(&app, &p, EXAMPLE, "item");
        run(async {
            let c = logged_in(&app, "ann").await;
            let path = format!("/cache/item/{uuid}");
            assert!(shows_header(&page(&c, &app, &path).await, "library"));

            // Bulk write (set_cache_items) of different data.
            cache.set_cache_items(&[CacheWrite {
                app_name: EXAMPLE,
                name: "item",
                data: JsonText::parse(&big("bulk")).unwrap(),
                project: Some(&p),
                user: None,
            }]).unwrap();
            let html = page(&c, &app, &path).await;
            assert!(shows_header(&html, "bulk") && !shows_header(&html, "library"));

            // REST set.
            let set = c.post(app.url(&format!("/cache/api/set/{}/{EXAMPLE}/item", p.uuid)))
                .header("Authorization", format!("token {root_token}"))
                .header("Accept", "application/vnd.bihealth.sodar-core.sodarcache+json; version=2.0")
                .header("Content-Type", "application/json")
                .body(format!(r#"{{"data": {}}}"#, big("rest")))
                .send().await.unwrap();
            assert!(set.status().is_success(), "{}", set.status());
            let html = page(&c, &app, &path).await;
            assert!(shows_header(&html, "rest") && !shows_header(&html, "bulk"));
            let (sha, preview) = stored_preview(&app, &uuid).expect("a preview");
            let item = cache.get_cache_item(EXAMPLE, "item", Some(&p)).unwrap().unwrap();
            assert_eq!(Some(sha), item.data_sha256);
            assert!(item.data.as_str().starts_with(&preview));

            // Small again: read whole, no preview kept, no note.
            cache.set_cache_item_json(EXAMPLE, "item", &JsonText::parse(r#"{"header": "small"}"#).unwrap(), Some(&p), None).unwrap();
            assert_eq!(stored_preview(&app, &uuid), None, "a small item keeps no preview");
            let html = page(&c, &app, &path).await;
            assert!(shows_header(&html, "small"));
            assert!(!html.contains("id=\"json-note\">This is a preview"));
        });
    }
}

backend_test! {
    fn plugin_writes_set_set_raw_and_batch_keep_the_preview_current(db) {
        let run_no = Arc::new(AtomicUsize::new(0));
        let seen = run_no.clone();
        let plugin = FnPlugin::new("sheets", &[]).on_project(move |ctx, _| {
            let n = seen.load(Ordering::SeqCst);
            let raw = |tag: &str| RawValue::from_string(big(tag)).expect("JSON");
            ctx.set("set", &raw(&format!("set {n}")))?;
            ctx.set_raw("raw", raw(&format!("raw {n}")))?;
            let mut batch = ctx.batch();
            batch.set_raw("batch", raw(&format!("batch {n}")));
            batch.commit()?;
            Ok(())
        });
        let (app, p) = spawn(&db, PluginRegistry::builder().project_app(plugin));
        run(async {
            let c = logged_in(&app, "ann").await;
            for n in 1..=2 {
                run_no.store(n, Ordering::SeqCst);
                let outcomes = app.registry.update_cache(None, Some(&p), None).unwrap();
                assert!(outcomes.iter().all(|o| o.ok()), "{outcomes:?}");
                for name in ["set", "raw", "batch"] {
                    let uuid = uuid_of(&app, &p, "sheets", name);
                    let html = page(&c, &app, &format!("/cache/item/{uuid}")).await;
                    assert!(shows_header(&html, &format!("{name} {n}")), "{name} after sync {n}");
                    if n == 2 {
                        assert!(!shows_header(&html, &format!("{name} 1")), "{name}: the old preview is gone");
                    }
                }
            }
        });
    }
}

backend_test! {
    fn a_preview_of_other_data_is_never_shown(db) {
        // Data changed by something that does not write previews (an older server, SQL):
        // the stored preview's hash no longer matches, so the page cuts the data itself.
        let (app, p) = spawn(&db, PluginRegistry::builder().project_app(ExampleProjectApp));
        let written = app.registry.cache_unchecked()
            .set_cache_item_json(EXAMPLE, "huge", &JsonText::parse(&big("old")).unwrap(), Some(&p), None)
            .unwrap();
        let uuid = written.uuid.to_string();
        let new = JsonText::parse(&big("new")).unwrap();
        {
            let conn = &mut **app.conn();
            let data_id: i64 = cache_items::table
                .filter(cache_items::uuid.eq(written.uuid))
                .select(cache_items::data_id)
                .first(conn)
                .unwrap();
            diesel::update(cache_item_data::table.find(data_id))
                .set(cache_item_data::data.eq(&new))
                .execute(conn)
                .unwrap();
            diesel::update(cache_items::table.filter(cache_items::uuid.eq(written.uuid)))
                .set(cache_items::data_sha256.eq(new.sha256_hex()))
                .execute(conn)
                .unwrap();
        }
        assert!(stored_preview(&app, &uuid).is_some(), "the old preview is still stored");
        run(async {
            let c = logged_in(&app, "ann").await;
            let html = page(&c, &app, &format!("/cache/item/{uuid}")).await;
            assert!(shows_header(&html, "new") && !shows_header(&html, "old"));
            assert!(html.contains("id=\"json-note\">This is a preview of the first 1.0 MB"));
        });
    }
}

/// SQLite reaches a column stored after a large value only through that value's
/// overflow pages. The data lives in a table of its own (`cache_item_data`), so an
/// item's or a version's size, date and writer are read without touching its data:
/// neither row holds any.
#[test]
fn data_is_apart_from_the_item_and_version_rows_on_sqlite() {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let db = common::TestDb::sqlite();
    let mut pooled = db.pool().get().unwrap();
    let conn = &mut **pooled;
    let mut columns_of = |table: &str| -> Vec<String> {
        diesel::sql_query(format!(
            "SELECT name FROM pragma_table_xinfo('{table}') WHERE hidden = 0 ORDER BY cid"
        ))
        .load::<Column>(conn)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect()
    };
    for table in ["cache_items", "cache_item_versions"] {
        let names = columns_of(table);
        assert!(!names.iter().any(|n| n == "data"), "{table}: {names:?}");
        assert!(names.iter().any(|n| n == "data_id"), "{table}: {names:?}");
    }
    assert_eq!(columns_of("cache_item_data"), ["id", "data"]);
}
