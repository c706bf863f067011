//! The three upstream endpoints' payloads, versions and media types, ETags, and the
//! activity events of writes.

mod api_helpers;
mod common;

use api_helpers::{APP, As, ITEM, ITEM_DATA, MEDIA, World, run, send};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, IF_NONE_MATCH};
use serde_json::{Value, json};
use sodarcache::db::Scope;
use sodarcache::db::models::Event;
use sodarcache::db::models::Origin;

backend_test! {
    fn retrieve_returns_upstream_keys_in_order_and_the_stored_text(db) {
        let w = World::new(&db);
        run(async {
            let r = w.get(&w.item_path("retrieve", &w.project, ITEM), As::User("guest")).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.assert_media("2.0");
            let owner = w.users["owner"].uuid;
            let prefix = format!(
                r#"{{"project":"{}","app_name":"{APP}","name":"{ITEM}","date_modified":""#,
                w.project.uuid
            );
            assert!(r.text.starts_with(&prefix), "{}", r.text);
            let keys = ["\"project\"", "\"app_name\"", "\"name\"", "\"date_modified\"", "\"user\"", "\"data\""];
            let positions: Vec<usize> = keys.iter().map(|k| r.text.find(k).unwrap()).collect();
            assert!(positions.windows(2).all(|p| p[0] < p[1]), "{}", r.text);
            let body = r.json();
            assert_eq!(body["user"], json!(owner.to_string()));
            let expected: Value = serde_json::from_str(ITEM_DATA).unwrap();
            assert_eq!(body["data"], expected);
            if db.backend == common::Backend::Sqlite {
                // SQLite keeps the client's text; it goes out unchanged.
                assert!(r.text.ends_with(&format!(",\"data\":{ITEM_DATA}}}")), "{}", r.text);
            }
            let date = body["date_modified"].as_str().unwrap();
            assert!(date.ends_with('Z'));
            chrono::DateTime::parse_from_rfc3339(date).unwrap();
        });
    }
}

backend_test! {
    fn date_returns_seconds_since_the_epoch(db) {
        let w = World::new(&db);
        run(async {
            let r = w.get(&w.item_path("retrieve/date", &w.project, ITEM), As::User("owner")).await;
            assert_eq!(r.status, 200);
            r.assert_media("2.0");
            let t = r.json()["update_time"].as_f64().unwrap();
            let now = chrono::Utc::now().timestamp() as f64;
            assert!((now - t).abs() < 120.0, "{t} vs {now}");
        });
    }
}

backend_test! {
    fn clients_following_upstream_docs_or_code_both_get_200(db) {
        let w = World::new(&db);
        run(async {
            let path = w.item_path("retrieve", &w.project, ITEM);
            for (accept, version) in [
                (format!("{MEDIA}; version=1.0"), "1.0"),
                (format!("{MEDIA}; version=2.0"), "2.0"),
                (MEDIA.to_owned(), "2.0"),
                ("*/*".to_owned(), "2.0"),
            ] {
                let r = send(w.request_accepting(Method::GET, &path, As::User("owner"), &accept)).await;
                assert_eq!(r.status, 200, "{accept}");
                r.assert_media(version);
                // Errors carry the asked-for version too.
                let missing = w.item_path("retrieve", &w.project, "missing");
                let r = send(w.request_accepting(Method::GET, &missing, As::User("owner"), &accept)).await;
                assert_eq!(r.status, 404);
                r.assert_media(version);
            }
            let r = send(w.client.get(w.app.url(&path)).header("authorization", format!("token {}", w.tokens["owner"]))).await;
            assert_eq!(r.status, 200, "no Accept header");
            r.assert_media("2.0");
        });
    }
}

backend_test! {
    fn set_creates_then_updates_and_records_events(db) {
        let w = World::new(&db);
        run(async {
            let path = w.item_path("set", &w.project, "new");
            let r = w.set(&path, As::User("contributor"), json!({"v": 1})).await;
            assert_eq!(r.status, 200);
            r.assert_media("2.0");
            assert_eq!(r.json(), json!({"detail": "ok"}));
            let first = w.get(&w.item_path("retrieve", &w.project, "new"), As::User("owner")).await.json();
            assert_eq!(first["data"], json!({"v": 1}));
            assert_eq!(first["user"], json!(w.users["contributor"].uuid.to_string()));
            let r = w.set(&path, As::User("delegate"), json!([1, "two"])).await;
            assert_eq!(r.status, 200);
            let second = w.get(&w.item_path("retrieve", &w.project, "new"), As::User("owner")).await.json();
            assert_eq!(second["data"], json!([1, "two"]));
            assert_eq!(second["user"], json!(w.users["delegate"].uuid.to_string()));
            assert!(second["date_modified"].as_str() >= first["date_modified"].as_str());
            let events = Event::list(&mut w.app.conn(), Some(Scope::Project(w.project.id)), 10).unwrap();
            let sets: Vec<&Event> = events.iter().filter(|e| e.event_name == "cache_set").collect();
            assert_eq!(sets.len(), 2);
            assert!(sets.iter().all(|e| e.origin == Origin::Api && e.ok));
            assert_eq!(sets[0].user_id, Some(w.users["delegate"].id));
            assert_eq!(sets[1].user_id, Some(w.users["contributor"].id));
            assert!(sets[0].description.contains("sodarcache:new"));
        });
    }
}

backend_test! {
    fn set_keeps_the_clients_json_text(db) {
        let w = World::new(&db);
        run(async {
            let body = r#"{"data": {"z": 1,  "a": 2.50}}"#;
            let r = send(
                w.request(Method::POST, &w.item_path("set", &w.project, "raw"), As::User("owner"))
                    .header(CONTENT_TYPE, "application/json")
                    .body(body),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            let stored: Value = serde_json::from_str(&w.stored(&w.project, "raw").unwrap()).unwrap();
            assert_eq!(stored, json!({"z": 1, "a": 2.50}));
            if db.backend == common::Backend::Sqlite {
                assert_eq!(w.stored(&w.project, "raw").unwrap(), r#"{"z": 1,  "a": 2.50}"#);
            }
        });
    }
}

backend_test! {
    fn set_accepts_a_form_and_stores_a_json_string_like_upstream(db) {
        let w = World::new(&db);
        run(async {
            let r = send(
                w.request(Method::POST, &w.item_path("set", &w.project, "form"), As::User("owner"))
                    .form(&[("data", r#"{"a": 1}"#)]),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            let got = w.get(&w.item_path("retrieve", &w.project, "form"), As::User("owner")).await.json();
            assert_eq!(got["data"], json!(r#"{"a": 1}"#));
        });
    }
}

backend_test! {
    fn etag_and_if_none_match_give_304_until_the_item_changes(db) {
        let w = World::new(&db);
        run(async {
            let path = w.item_path("retrieve", &w.project, ITEM);
            let r = w.get(&path, As::User("owner")).await;
            let etag = r.header("etag").unwrap().to_owned();
            assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");
            let again = send(w.request(Method::GET, &path, As::User("owner")).header(IF_NONE_MATCH, &etag)).await;
            assert_eq!(again.status, 304);
            assert!(again.text.is_empty());
            assert_eq!(again.header("etag"), Some(etag.as_str()));
            let any = send(w.request(Method::GET, &path, As::User("owner")).header(IF_NONE_MATCH, "\"x\", *")).await;
            assert_eq!(any.status, 304);
            let other = send(w.request(Method::GET, &path, As::User("owner")).header(IF_NONE_MATCH, "\"other\"")).await;
            assert_eq!(other.status, 200);
            // A 304 never leaks past the permission check.
            let denied = send(w.request(Method::GET, &path, As::User("viewer")).header(IF_NONE_MATCH, &etag)).await;
            assert_eq!(denied.status, 403);
            w.set(&w.item_path("set", &w.project, ITEM), As::User("owner"), json!({"changed": true})).await;
            let changed = send(w.request(Method::GET, &path, As::User("owner")).header(IF_NONE_MATCH, &etag)).await;
            assert_eq!(changed.status, 200);
            assert_ne!(changed.header("etag"), Some(etag.as_str()));
        });
    }
}

backend_test! {
    fn a_large_item_round_trips(db) {
        let w = World::new(&db);
        run(async {
            let big = "x".repeat(5 * 1024 * 1024);
            let r = w.set(&w.item_path("set", &w.project, "big"), As::User("owner"), json!({"blob": big})).await;
            assert_eq!(r.status, 200);
            let r = w.get(&w.item_path("retrieve", &w.project, "big"), As::User("owner")).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-length").map(|l| l.parse::<usize>().unwrap()), Some(r.text.len()));
            assert_eq!(r.json()["data"]["blob"].as_str().map(str::len), Some(big.len()));
        });
    }
}
