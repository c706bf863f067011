//! What SODAR clients send beyond token GETs and JSON POSTs, over HTTP on both backends:
//! HEAD on the retrieve views, OPTIONS on every endpoint, multipart bodies on set, and
//! timestamps in `SODARCACHE_TIME_ZONE`.

mod api_helpers;
mod common;

use api_helpers::{As, ITEM, World, run, send};
use reqwest::Method;
use sodarcache::db::Scope;
use sodarcache::db::models::CacheItem;
use sodarcache::time_zone::SiteTimeZone;

backend_test! {
    fn head_on_retrieve_and_date_answers_the_get_headers_without_a_body(db) {
        let w = World::new(&db);
        run(async {
            for endpoint in ["retrieve", "retrieve/date"] {
                let path = w.item_path(endpoint, &w.project, ITEM);
                let get = w.get(&path, As::User("guest")).await;
                let head = send(w.request(Method::HEAD, &path, As::User("guest"))).await;
                assert_eq!(head.status, 200, "{endpoint}");
                assert!(head.text.is_empty(), "{endpoint}: {}", head.text);
                for h in ["content-type", "content-length", "etag"] {
                    assert_eq!(head.header(h), get.header(h), "{endpoint}: {h}");
                }
                // The gate applies: no credentials, no headers of the item.
                let anon = send(w.request(Method::HEAD, &path, As::Anonymous)).await;
                assert_eq!(anon.status, 401, "{endpoint}");
            }
            // The default time zone is UTC, rendered with upstream's Z.
            let got = w.get(&w.item_path("retrieve", &w.project, ITEM), As::User("owner")).await.json();
            assert!(got["date_modified"].as_str().unwrap().ends_with('Z'), "{got}");
        });
    }
}

backend_test! {
    fn options_describes_every_endpoint_behind_the_same_gate(db) {
        let w = World::new(&db);
        run(async {
            let cases = [
                (w.item_path("retrieve", &w.project, ITEM), "GET, HEAD, OPTIONS", "Cache Item Retrieve Api", "guest"),
                (w.item_path("retrieve/date", &w.project, ITEM), "GET, HEAD, OPTIONS", "Cache Item Date Retrieve Api", "guest"),
                (w.item_path("set", &w.project, ITEM), "POST, OPTIONS", "Cache Item Set Api", "contributor"),
                (w.item_path("delete", &w.project, ITEM), "DELETE, OPTIONS", "Cache Item Delete Api", "contributor"),
                (format!("/cache/api/list/{}", w.project.uuid), "GET, OPTIONS", "Cache Item List Api", "guest"),
            ];
            for (path, allow, name, who) in &cases {
                let r = send(w.request(Method::OPTIONS, path, As::User(who))).await;
                assert_eq!(r.status, 200, "{path}: {}", r.text);
                assert_eq!(r.header("allow"), Some(*allow), "{path}");
                let body = r.json();
                assert_eq!(body["name"], *name);
                assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()));
                assert_eq!(body["renders"][0], "application/vnd.bihealth.sodar-core.sodarcache+json");
                assert_eq!(body["parses"].as_array().map(Vec::len), Some(3));
                r.assert_media("2.0");
                let anon = send(w.request(Method::OPTIONS, path, As::Anonymous)).await;
                assert_eq!(anon.status, 401, "{path}");
            }
            // A guest may read but not write: OPTIONS on set says so as POST would.
            let r = send(w.request(Method::OPTIONS, &w.item_path("set", &w.project, ITEM), As::User("guest"))).await;
            assert_eq!(r.status, 403);
            let r = send(w.request(Method::OPTIONS, "/cache/api/openapi.json", As::Anonymous)).await;
            assert_eq!(r.status, 200);
            assert_eq!(r.header("allow"), Some("GET, OPTIONS"));
        });
    }
}

backend_test! {
    fn multipart_set_stores_the_data_field_or_file_as_a_json_string(db) {
        let w = World::new(&db);
        run(async {
            let path = w.item_path("set", &w.project, "multi");
            let body = "--b0und\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{\"a\": 1}\r\n--b0und--\r\n";
            let r = send(
                w.request(Method::POST, &path, As::User("owner"))
                    .header("content-type", "multipart/form-data; boundary=b0und")
                    .body(body),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(w.stored(&w.project, "multi").as_deref(), Some(r#""{\"a\": 1}""#));
            // A file part named data, as Python's requests sends with files=.
            let file = "--b0und\r\nContent-Disposition: form-data; name=\"data\"; filename=\"data\"\r\n\
                        Content-Type: application/octet-stream\r\n\r\n[1, 2]\r\n--b0und--\r\n";
            let r = send(
                w.request(Method::POST, &path, As::User("owner"))
                    .header("content-type", "multipart/form-data; boundary=b0und")
                    .body(file),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(w.stored(&w.project, "multi").as_deref(), Some(r#""[1, 2]""#));
            // No data field: a 400 with a one-line detail, nothing written.
            let r = send(
                w.request(Method::POST, &w.item_path("set", &w.project, "none"), As::User("owner"))
                    .header("content-type", "multipart/form-data; boundary=b0und")
                    .body("--b0und\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b0und--\r\n"),
            )
            .await;
            r.assert_status_with_detail(400);
            assert_eq!(w.stored(&w.project, "none"), None);
        });
    }
}

backend_test! {
    fn date_modified_is_rendered_in_the_configured_time_zone(db) {
        let w = World::with(&db, |s| {
            s.time_zone = SiteTimeZone::named("Europe/Berlin").expect("system tzdata");
        });
        let stored = CacheItem::find(&mut w.app.conn(), Scope::from(&w.project), api_helpers::APP, ITEM)
            .unwrap()
            .unwrap()
            .date_modified;
        let berlin = SiteTimeZone::named("Europe/Berlin").unwrap();
        run(async {
            let got = w.get(&w.item_path("retrieve", &w.project, ITEM), As::User("owner")).await.json();
            let text = got["date_modified"].as_str().unwrap().to_owned();
            assert_eq!(text, berlin.render(stored));
            assert!(text.ends_with("+01:00") || text.ends_with("+02:00"), "{text}");
            let list = w.get(&format!("/cache/api/list/{}", w.project.uuid), As::User("owner")).await.json();
            assert_eq!(list["results"][0]["date_modified"], text);
        });
    }
}

backend_test! {
    fn an_encoded_slash_in_the_item_name_reaches_the_item(db) {
        let w = World::new(&db);
        run(async {
            let set = format!("/cache/api/set/{}/{}/irods%2Frows%2Fassay1", w.project.uuid, api_helpers::APP);
            let r = w.set(&set, As::User("owner"), serde_json::json!({"rows": 1})).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(w.stored(&w.project, "irods/rows/assay1").as_deref(), Some(r#"{"rows":1}"#));
            let get = format!("/cache/api/retrieve/{}/{}/irods%2Frows%2Fassay1", w.project.uuid, api_helpers::APP);
            let got = w.get(&get, As::User("owner")).await;
            assert_eq!(got.status, 200, "{}", got.text);
            assert_eq!(got.json()["name"], "irods/rows/assay1");
        });
    }
}
