//! One test per error code, the order of the checks, and JSON bodies with the
//! vendor media type everywhere (upstream answered HTML 404s and 500s).

mod api_helpers;
mod common;

use api_helpers::{APP, As, ITEM, MEDIA, World, run, send};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::json;

const NO_CREDS: &str = "Authentication credentials were not provided.";

backend_test! {
    fn unsupported_version_or_media_type_is_406_before_authentication(db) {
        let w = World::new(&db);
        run(async {
            let path = w.item_path("retrieve", &w.project, ITEM);
            for (accept, detail) in [
                (format!("{MEDIA}; version=3.0"), "Invalid version in \"Accept\" header."),
                ("application/json".to_owned(), "Could not satisfy the request Accept header."),
                ("text/html".to_owned(), "Could not satisfy the request Accept header."),
            ] {
                for who in [As::Anonymous, As::User("owner")] {
                    let r = send(w.request_accepting(Method::GET, &path, who, &accept)).await;
                    r.assert_error(406, detail);
                }
                // Even before a bad token or an unknown project.
                let r = send(
                    w.request_accepting(Method::POST, "/cache/api/set/nope/x/y", As::Anonymous, &accept)
                        .header(AUTHORIZATION, "token bad"),
                )
                .await;
                r.assert_error(406, detail);
            }
        });
    }
}

backend_test! {
    fn missing_or_bad_credentials_are_401_with_www_authenticate(db) {
        let w = World::new(&db);
        run(async {
            let path = w.item_path("retrieve", &w.project, ITEM);
            let cases = [
                (None, NO_CREDS),
                (Some("token 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_owned()), "Invalid token."),
                (Some("token nonsense".to_owned()), "Invalid token."),
                (Some("token".to_owned()), "Invalid token header. No credentials provided."),
                (Some("token a b".to_owned()), "Invalid token header. Token string should not contain spaces."),
                // Not our scheme: no credentials at all, as in DRF.
                (Some(format!("Bearer {}", w.tokens["owner"])), NO_CREDS),
                // Basic is ours since issue 11: "owner:x" is a wrong password.
                (Some("Basic b3duZXI6eA==".to_owned()), "Invalid username/password."),
            ];
            for (header, detail) in cases {
                let mut rb = w.request(Method::GET, &path, As::Anonymous);
                if let Some(h) = &header {
                    rb = rb.header(AUTHORIZATION, h);
                }
                let r = send(rb).await;
                r.assert_error(401, detail);
                let challenges: Vec<_> = r.headers.get_all("www-authenticate").iter().collect();
                assert_eq!(challenges, ["Basic realm=\"api\", charset=\"UTF-8\"", "Token"], "{header:?}");
            }
            // 401 comes before 404: an unknown project does not leak to strangers.
            let unknown = format!("/cache/api/retrieve/{}/{APP}/{ITEM}", uuid::Uuid::new_v4());
            w.get(&unknown, As::Anonymous).await.assert_error(401, NO_CREDS);
            // The scheme is case-insensitive.
            let r = send(
                w.request(Method::GET, &path, As::Anonymous)
                    .header(AUTHORIZATION, format!("TOKEN {}", w.tokens["owner"])),
            )
            .await;
            assert_eq!(r.status, 200);
        });
    }
}

backend_test! {
    fn unknown_or_malformed_projects_missing_items_and_paths_are_json_404s(db) {
        let w = World::new(&db);
        run(async {
            let who = As::User("superuser");
            let unknown = uuid::Uuid::new_v4();
            for endpoint in ["retrieve", "retrieve/date", "delete"] {
                for project in [unknown.to_string(), "not-a-uuid".to_owned()] {
                    let path = format!("/cache/api/{endpoint}/{project}/{APP}/{ITEM}");
                    let method = if endpoint == "delete" { Method::DELETE } else { Method::GET };
                    send(w.request(method, &path, who)).await.assert_error(404, "Not found.");
                }
                // A path that is not UTF-8 once decoded breaks the input rules: 400.
                let path = format!("/cache/api/{endpoint}/%FF%FE/{APP}/{ITEM}");
                let method = if endpoint == "delete" { Method::DELETE } else { Method::GET };
                send(w.request(method, &path, who)).await.assert_status_with_detail(400);
                let missing = w.item_path(endpoint, &w.project, "missing");
                let method = if endpoint == "delete" { Method::DELETE } else { Method::GET };
                send(w.request(method, &missing, who)).await.assert_error(404, "Not found.");
            }
            w.set(&format!("/cache/api/set/{unknown}/{APP}/{ITEM}"), who, json!(1)).await.assert_error(404, "Not found.");
            w.get(&format!("/cache/api/list/{unknown}"), who).await.assert_error(404, "Not found.");
            for path in ["/cache/api", "/cache/api/", "/cache/api/nothing", "/cache/api/retrieve/x"] {
                w.get(path, who).await.assert_error(404, "Not found.");
            }
            w.get(&format!("/cache/api/list/{}?page=9", w.project.uuid), who).await.assert_error(404, "Invalid page.");
        });
    }
}

backend_test! {
    fn client_mistakes_are_400s(db) {
        let w = World::new(&db);
        run(async {
            let who = As::User("owner");
            let bad_app = format!("/cache/api/retrieve/{}/no_such_app/{ITEM}", w.project.uuid);
            let detail = "Unknown app name \"no_such_app\" (installed apps: sodarcache)";
            w.get(&bad_app, who).await.assert_error(400, detail);
            w.get(&bad_app.replace("retrieve/", "retrieve/date/"), who).await.assert_error(400, detail);
            w.set(&bad_app.replace("retrieve/", "set/"), who, json!(1)).await.assert_error(400, detail);
            w.delete(&bad_app.replace("retrieve/", "delete/"), who).await.assert_error(400, detail);
            let set = w.item_path("set", &w.project, ITEM);
            for body in ["{}", "[1]", "{\"data\": ", "not json", "", "{\"other\": 1}"] {
                let r = send(w.request(Method::POST, &set, who).header(CONTENT_TYPE, "application/json").body(body)).await;
                r.assert_status_with_detail(400);
            }
            let r = send(w.request(Method::POST, &set, who).form(&[("other", "1")])).await;
            r.assert_error(400, "The field \"data\" is required.");
            w.set(&set, who, json!(null)).await.assert_status_with_detail(400);
            let long = "n".repeat(256);
            w.set(&w.item_path("set", &w.project, &long), who, json!(1)).await
                .assert_error(400, "Item name must be between 1 and 255 characters");
            // 255 characters are fine.
            let r = w.set(&w.item_path("set", &w.project, &"n".repeat(255)), who, json!(1)).await;
            assert_eq!(r.status, 200);
            w.get(&format!("/cache/api/list/{}?page_size=0", w.project.uuid), who).await.assert_status_with_detail(400);
            w.get(&format!("/cache/api/list/{}?app=nope", w.project.uuid), who).await.assert_status_with_detail(400);
            // Nothing was written by the failures.
            assert_eq!(w.stored(&w.project, &long), None);
        });
    }
}

backend_test! {
    fn bodies_over_the_limit_are_413(db) {
        let w = World::with(&db, |s| s.max_body_bytes = 1024);
        run(async {
            let set = w.item_path("set", &w.project, "big");
            let r = w.set(&set, As::User("owner"), json!("x".repeat(2000))).await;
            r.assert_status_with_detail(413);
            r.assert_media("2.0");
            let r = send(w.request(Method::POST, &set, As::User("owner")).form(&[("data", "y".repeat(2000))])).await;
            r.assert_status_with_detail(413);
            let r = w.set(&set, As::User("owner"), json!("x".repeat(900))).await;
            assert_eq!(r.status, 200);
            // Authorization still comes first.
            w.set(&set, As::User("guest"), json!("x".repeat(2000))).await
                .assert_error(403, "You do not have permission to perform this action.");
        });
    }
}

backend_test! {
    fn other_body_types_are_415_and_wrong_methods_405(db) {
        let w = World::new(&db);
        run(async {
            let set = w.item_path("set", &w.project, ITEM);
            let r = send(w.request(Method::POST, &set, As::User("owner")).header(CONTENT_TYPE, "text/plain").body("data")).await;
            r.assert_error(415, "Unsupported media type \"text/plain\" in request.");
            let r = send(w.request(Method::PUT, &set, As::User("owner")).body("{}")).await;
            r.assert_error(405, "Method \"PUT\" not allowed.");
            let r = send(w.request(Method::GET, &set, As::User("owner"))).await;
            r.assert_error(405, "Method \"GET\" not allowed.");
        });
    }
}

backend_test! {
    fn every_405_carries_the_allow_list_options_gives(db) {
        let w = World::new(&db);
        run(async {
            let endpoints = [
                w.item_path("retrieve", &w.project, ITEM),
                w.item_path("retrieve/date", &w.project, ITEM),
                w.item_path("set", &w.project, ITEM),
                w.item_path("delete", &w.project, ITEM),
                w.item_path("history", &w.project, ITEM),
                format!("/cache/api/list/{}", w.project.uuid),
                "/cache/api/openapi.json".to_owned(),
            ];
            for path in endpoints {
                let options = send(w.request(Method::OPTIONS, &path, As::User("owner"))).await;
                assert_eq!(options.status, 200, "OPTIONS {path}: {}", options.text);
                let allow = options.header("allow").expect("Allow on OPTIONS").to_owned();
                let allowed: Vec<&str> = allow.split(", ").collect();
                for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                    if allowed.contains(&method) {
                        continue;
                    }
                    let m = Method::from_bytes(method.as_bytes()).unwrap();
                    let r = send(w.request(m, &path, As::User("owner"))).await;
                    assert_eq!(r.status, 405, "{method} {path}");
                    assert_eq!(r.json(), serde_json::json!({ "detail": format!("Method \"{method}\" not allowed.") }));
                    assert_eq!(r.header("allow"), Some(allow.as_str()), "{method} {path}");
                }
            }
        });
    }
}

backend_test! {
    fn a_disabled_backend_is_503_after_the_permission_checks(db) {
        let w = World::with(&db, |s| s.enabled_backends = vec![]);
        run(async {
            let detail = "Cache backend not enabled";
            let who = As::User("owner");
            w.get(&w.item_path("retrieve", &w.project, ITEM), who).await.assert_error(503, detail);
            w.get(&w.item_path("retrieve/date", &w.project, ITEM), who).await.assert_error(503, detail);
            w.set(&w.item_path("set", &w.project, ITEM), who, json!(1)).await.assert_error(503, detail);
            w.delete(&w.item_path("delete", &w.project, ITEM), who).await.assert_error(503, detail);
            w.get(&format!("/cache/api/list/{}", w.project.uuid), who).await.assert_error(503, detail);
            // The checks before still win.
            w.get(&w.item_path("retrieve", &w.project, ITEM), As::Anonymous).await.assert_error(401, NO_CREDS);
            w.get(&w.item_path("retrieve", &w.project, ITEM), As::User("viewer")).await
                .assert_error(403, "You do not have permission to perform this action.");
            w.get(&w.item_path("retrieve", &w.category, ITEM), who).await
                .assert_error(403, "Project type \"CATEGORY\" not allowed for this API view");
        });
    }
}
