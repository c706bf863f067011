//! The item page's JSON tree over HTTP on both backends: nothing is dropped silently
//! (every root key drawn, each cut says how many it leaves out, at the top a note that
//! says so), every item gets a preview whatever its size, deep documents and numbers
//! beyond f64 are shown as stored, and the download keeps the name's Unicode.

mod common;
#[path = "common/web.rs"]
mod web;

use diesel::RunQueryDsl;
use reqwest::StatusCode;
use sodarcache::db::JsonText;
use sodarcache::db::models::{Project, Role};
use sodarcache::plugins::{ExampleProjectApp, PluginRegistry};

use common::TestApp;
use common::fixtures as fx;
use web::*;

const EXAMPLE: &str = "example_project_app";

fn spawn(db: &common::TestDb) -> (TestApp, Project) {
    let app = TestApp::spawn(
        db,
        PluginRegistry::builder().project_app(ExampleProjectApp),
        |_| {},
    );
    let p = {
        let conn = &mut **app.conn();
        let ann = fx::user(conn, "ann", false);
        let p = fx::project(conn, "Proj", None, None);
        fx::role(conn, &p, &ann, Role::Guest);
        p
    };
    (app, p)
}

fn set_text(app: &TestApp, p: &Project, name: &str, text: &str) -> String {
    let data = JsonText::parse(text).expect("valid JSON");
    app.registry
        .cache()
        .expect("cache")
        .set_cache_item_json(EXAMPLE, name, &data, Some(p), None)
        .expect("set item")
        .uuid
        .to_string()
}

/// Stores `text` as the item's data directly (as data written before today's input
/// rules, or by another client of the database, may be).
fn store_raw(app: &TestApp, uuid: &str, text: &str) {
    let data = format!(
        "UPDATE cache_item_data SET data = '{}' \
         WHERE id = (SELECT data_id FROM cache_items WHERE uuid = '{uuid}')",
        text.replace('\'', "''"),
    );
    let size = format!(
        "UPDATE cache_items SET size_bytes = {} WHERE uuid = '{uuid}'",
        text.len()
    );
    for sql in [data, size] {
        diesel::sql_query(sql)
            .execute(&mut **app.conn())
            .expect("store raw data");
    }
}

/// The shape of the issue's 900 KB item: a small key, 10,986 samples, a last key.
fn samples_document() -> String {
    let samples: Vec<String> = (0..10_986)
        .map(|i| {
            format!(
                r#"{{"id": "S{i:05}", "name": "Sample {i}", "qc": {{"passed": true, "reads": {}}}}}"#,
                1000 + i
            )
        })
        .collect();
    format!(
        r#"{{"meta": {{"version": 2, "source": "irods"}}, "samples": [{}], "summary": {{"count": 10986}}}}"#,
        samples.join(", ")
    )
}

fn tree(html: &str) -> &str {
    let start = html.find("id=\"json-tree\"").expect("the tree");
    &html[start..]
}

backend_test! {
    fn a_900_kb_item_draws_every_root_key_and_says_where_each_cut_is(db) {
        let (app, p) = spawn(&db);
        let text = samples_document();
        assert!(text.len() > 800_000 && text.len() < 1_048_576, "{}", text.len());
        let item = set_text(&app, &p, "big", &text);
        run(async {
            let c = logged_in(&app, "ann").await;
            let html = page(&c, &app, &format!("/cache/item/{item}")).await;
            let t = tree(&html);
            for key in ["meta", "samples", "summary"] {
                assert!(t.contains(&format!("<span class=\"key\">{key}</span>")), "root key {key} drawn");
            }
            assert!(t.contains("3 keys"));
            assert!(t.contains("10,986 items"));
            let drawn = t.matches("<span class=\"key\">qc</span>").count();
            assert!(drawn >= 50, "samples are drawn with their content: {drawn}");
            assert!(
                t.contains(&format!("… {} more items</li>", fmt_count(10_986 - drawn))),
                "the cut says how many samples it leaves out"
            );
            // The deepest level of the samples drawn is there too.
            assert!(t.contains("<span class=\"key\">reads</span>: <span class=\"v-num\">1000</span>"));
            // The note that says so comes before the tree, not after it.
            let note = html.find("id=\"json-note\"").expect("a note");
            assert!(note < html.find("id=\"json-tree\"").unwrap());
            assert!(html[note..].contains("each cut says how much it leaves out"));
            // The filter box and the expand / collapse buttons (shown by the script).
            assert!(has_id(&html, "json-filter") && has_id(&html, "json-expand") && has_id(&html, "json-collapse"));
        });
    }
}

backend_test! {
    fn an_item_of_any_size_gets_a_preview_of_its_first_part_and_the_download(db) {
        let (app, p) = spawn(&db);
        // 5 MB: more than the whole-tree limit (4 MiB), so only its first mebibyte is read.
        let rows: Vec<String> = (0..70_000)
            .map(|i| format!(r#"{{"row": {i}, "gene": "BRCA{i}", "note": "Übersicht {i} ........"}}"#))
            .collect();
        let text = format!(r#"{{"header": "first", "rows": [{}]}}"#, rows.join(","));
        assert!(text.len() > 4_500_000, "{}", text.len());
        let item = set_text(&app, &p, "huge", &text);
        run(async {
            let c = logged_in(&app, "ann").await;
            let html = page(&c, &app, &format!("/cache/item/{item}")).await;
            assert!(!html.contains("too large"), "no item is too large for a preview");
            let t = tree(&html);
            assert!(t.contains("<span class=\"key\">header</span>: <span class=\"v-str\">\"first\"</span>"));
            assert!(t.contains("Übersicht 0"));
            assert!(t.contains("at least"), "counts of what the preview cuts are lower bounds");
            assert!(t.contains("the preview ends"), "the cut at the end of the preview is marked");
            let note = &html[html.find("id=\"json-note\"").expect("a note")..];
            assert!(note.contains("preview of the first 1.0 MB of 4.") || note.contains("preview of the first 1.0 MB of 5."), "{}", &note[..200]);
            assert!(note.contains(&format!("href=\"/cache/item/{item}/download\"")));
            let body = c
                .get(app.url(&format!("/cache/item/{item}/download")))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(body, text, "the download is all of it");
        });
    }
}

backend_test! {
    fn deep_documents_and_huge_numbers_are_shown_as_stored_never_as_null(db) {
        let (app, p) = spawn(&db);
        let item = set_text(&app, &p, "odd", r#"{"placeholder": 1}"#);
        // 200 levels: deeper than serde_json's 128 and today's input limit (100), as
        // older data may be.
        let deep = format!(
            r#"{{"big": 1e400, "precise": 0.10000000000000000000000001, "deep": {}"bottom"{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        store_raw(&app, &item, &deep);
        run(async {
            let c = logged_in(&app, "ann").await;
            let html = page(&c, &app, &format!("/cache/item/{item}")).await;
            let t = tree(&html);
            assert!(!t.contains("v-null"), "nothing is shown as null");
            assert!(t.contains("<span class=\"key\">big</span>: <span class=\"v-num\">1e400</span>"));
            assert!(t.contains("<span class=\"v-num\">0.10000000000000000000000001</span>"));
            assert!(t.contains("&quot;bottom&quot;"), "the deepest value is shown");
            assert!(t.contains("<code class=\"raw\">"), "past the drawn depth, the stored text");
        });
    }
}

backend_test! {
    fn the_download_name_keeps_unicode_through_filename_star(db) {
        let (app, p) = spawn(&db);
        let item = set_text(&app, &p, "Übersicht Ärzte", r#"{"a": 1}"#);
        let plain = set_text(&app, &p, "plain-name", r#"{"a": 1}"#);
        run(async {
            let c = logged_in(&app, "ann").await;
            let resp = c.get(app.url(&format!("/cache/item/{item}/download"))).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let cd = resp.headers()["content-disposition"].to_str().unwrap().to_owned();
            assert!(cd.starts_with("attachment"), "{cd}");
            let ext = cd.split("filename*=UTF-8''").nth(1).expect("filename*");
            assert_eq!(percent_decode(ext), "example_project_app-Übersicht Ärzte.json", "{cd}");
            assert!(cd.contains("filename=\"example_project_app-_bersicht__rzte.json\""), "ASCII fallback: {cd}");
            let resp = c.get(app.url(&format!("/cache/item/{plain}/download"))).send().await.unwrap();
            let cd = resp.headers()["content-disposition"].to_str().unwrap().to_owned();
            assert_eq!(cd, "attachment; filename=\"example_project_app-plain-name.json\"");
        });
    }
}

fn fmt_count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8")
}
