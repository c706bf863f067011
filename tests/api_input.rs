//! Hostile input on both backends: control characters and NUL in names, usernames and
//! filters, percent-escapes that are not UTF-8, deep JSON. Each is a 400 naming the
//! rule, the same on SQLite and PostgreSQL; nothing is written; never a 500.

mod api_helpers;
mod common;

use api_helpers::{APP, As, ITEM, World, run, send};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;
use sodarcache::cache::MAX_JSON_DEPTH;
use sodarcache::names::CONTROL_RULE;

/// Every item endpoint, with what it does with the item named `name`.
async fn every_endpoint(w: &World, name: &str) -> Vec<(String, api_helpers::Reply)> {
    let mut out = Vec::new();
    for endpoint in ["retrieve", "retrieve/date", "delete", "set"] {
        let path = w.item_path(endpoint, &w.project, name);
        let r = match endpoint {
            "set" => w.set(&path, As::User("owner"), json!({"x": 1})).await,
            "delete" => w.delete(&path, As::User("owner")).await,
            _ => w.get(&path, As::User("owner")).await,
        };
        out.push((endpoint.to_owned(), r));
    }
    out
}

backend_test! {
    fn control_characters_in_item_names_are_a_400_on_every_endpoint(db) {
        let w = World::new(&db);
        run(async {
            for name in ["a%00b", "%00start", "line%0Abreak", "tab%09", "del%7F", "c1%C2%85"] {
                for (endpoint, r) in every_endpoint(&w, name).await {
                    assert_eq!(r.status.as_u16(), 400, "{endpoint} {name}: {}", r.text);
                    assert_eq!(r.json()["detail"], format!("Paths {CONTROL_RULE}"), "{endpoint} {name}");
                }
            }
            let list = format!("/cache/api/list/{}?app=%00", w.project.uuid);
            let r = w.get(&list, As::User("owner")).await;
            assert_eq!(r.json()["detail"], format!("Query parameters {CONTROL_RULE}"));
            // Control characters in the app name too.
            let path = format!("/cache/api/retrieve/{}/sodar%0Acache/{ITEM}", w.project.uuid);
            assert_eq!(w.get(&path, As::User("owner")).await.status.as_u16(), 400);
        });
        assert_eq!(w.app.registry.cache_unchecked().get_project_cache(&w.project, "json").unwrap().len(), 1, "nothing written");
    }
}

backend_test! {
    fn escapes_that_are_not_utf8_are_a_400_never_a_replacement_character(db) {
        let w = World::new(&db);
        run(async {
            for name in ["%FF", "%FE", "x%C3"] {
                for (endpoint, r) in every_endpoint(&w, name).await {
                    assert_eq!(r.status.as_u16(), 400, "{endpoint} {name}: {}", r.text);
                    assert!(r.json()["detail"].as_str().unwrap().contains("UTF-8"), "{}", r.text);
                }
            }
            // A form body too.
            let path = w.item_path("set", &w.project, "formed");
            let r = send(
                w.request(Method::POST, &path, As::User("owner"))
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body("data=%FF"),
            )
            .await;
            assert_eq!(r.status.as_u16(), 400, "{}", r.text);
            // Real UTF-8 names still work, and stay apart.
            let path = w.item_path("set", &w.project, "caf%C3%A9");
            assert_eq!(w.set(&path, As::User("owner"), json!(1)).await.status.as_u16(), 200);
        });
        assert!(w.stored(&w.project, "\u{FFFD}").is_none());
        assert_eq!(w.stored(&w.project, "café").as_deref(), Some("1"));
    }
}

backend_test! {
    fn json_nested_past_the_limit_is_the_same_400_on_both_backends(db) {
        let w = World::new(&db);
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        run(async {
            for depth in [MAX_JSON_DEPTH + 1, 1001, 100_000] {
                let path = w.item_path("set", &w.project, "deep");
                let r = send(
                    w.request(Method::POST, &path, As::User("owner"))
                        .header(CONTENT_TYPE, "application/json")
                        .body(format!("{{\"data\": {}}}", nested(depth))),
                )
                .await;
                r.assert_error(400, &format!(
                    "Cache data is nested deeper than {MAX_JSON_DEPTH} levels of arrays and objects"
                ));
            }
            let path = w.item_path("set", &w.project, "deep");
            let r = send(
                w.request(Method::POST, &path, As::User("owner"))
                    .header(CONTENT_TYPE, "application/json")
                    .body(format!("{{\"data\": {}}}", nested(MAX_JSON_DEPTH))),
            )
            .await;
            assert_eq!(r.status.as_u16(), 200, "{}", r.text);
            let r = w.get(&w.item_path("retrieve", &w.project, "deep"), As::User("owner")).await;
            assert_eq!(r.status.as_u16(), 200);
        });
        assert_eq!(w.stored(&w.project, "deep"), Some(nested(MAX_JSON_DEPTH)));
    }
}

backend_test! {
    fn the_library_applies_the_same_rule(db) {
        let w = World::new(&db);
        let cache = w.app.registry.cache_unchecked();
        for name in ["a\nb", "\0", "x\u{7f}"] {
            let e = cache.set_cache_item(APP, name, &json!(1), "json", Some(&w.project), None).unwrap_err();
            assert_eq!(e.to_string(), format!("Item names {CONTROL_RULE}"));
            assert!(cache.get_cache_item(APP, name, Some(&w.project)).is_err());
            assert!(cache.get_update_time(APP, name, Some(&w.project)).is_err());
            assert!(cache.delete_cache_item(APP, name, Some(&w.project)).is_err());
        }
        let e = cache.set_cache_item("sodar\ncache", "x", &json!(1), "json", None, None).unwrap_err();
        assert_eq!(e.to_string(), format!("App names {CONTROL_RULE}"));
        let deep = (0..=MAX_JSON_DEPTH).fold(json!(1), |v, _| json!([v]));
        assert!(cache.set_cache_item(APP, "deep", &deep, "json", None, None).is_err());
    }
}
