//! Upstream's permission table over HTTP: every role × every endpoint, inherited
//! roles, public guest access, anonymous access on and off.

mod api_helpers;
mod common;

use api_helpers::{APP, As, ITEM, ITEM_DATA, ROLES, World, run};
use serde_json::json;
use sodarcache::db::JsonText;

const READERS: &[&str] = &[
    "superuser",
    "owner",
    "delegate",
    "contributor",
    "guest",
    "cat_owner",
    "cat_contributor",
    "cat_guest",
];
const WRITERS: &[&str] = &[
    "superuser",
    "owner",
    "delegate",
    "contributor",
    "cat_owner",
    "cat_contributor",
];
const NO_PERMISSION: &str = "You do not have permission to perform this action.";

fn restore_item(w: &World) {
    w.app
        .registry
        .cache_unchecked()
        .set_cache_item_json(
            APP,
            ITEM,
            &JsonText::parse(ITEM_DATA).unwrap(),
            Some(&w.project),
            None,
        )
        .unwrap();
}

backend_test! {
    fn every_role_on_every_read_endpoint(db) {
        let w = World::new(&db);
        run(async {
            for endpoint in ["retrieve", "retrieve/date"] {
                let path = w.item_path(endpoint, &w.project, ITEM);
                for role in ROLES {
                    let r = w.get(&path, As::User(role)).await;
                    if READERS.contains(role) {
                        assert_eq!(r.status, 200, "{role} {endpoint}: {}", r.text);
                    } else {
                        r.assert_error(403, NO_PERMISSION);
                    }
                }
            }
            let path = format!("/cache/api/list/{}", w.project.uuid);
            for role in ROLES {
                let r = w.get(&path, As::User(role)).await;
                if READERS.contains(role) {
                    assert_eq!(r.status, 200, "{role} list: {}", r.text);
                    assert_eq!(r.json()["count"], 1);
                } else {
                    r.assert_error(403, NO_PERMISSION);
                }
            }
        });
    }
}

backend_test! {
    fn every_role_on_set(db) {
        let w = World::new(&db);
        run(async {
            for role in ROLES {
                let path = w.item_path("set", &w.project, &format!("by_{role}"));
                let r = w.set(&path, As::User(role), json!({ "role": role })).await;
                if WRITERS.contains(role) {
                    assert_eq!(r.status, 200, "{role}: {}", r.text);
                    assert_eq!(r.json(), json!({ "detail": "ok" }));
                    let stored = w.stored(&w.project, &format!("by_{role}")).unwrap();
                    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
                    assert_eq!(stored, json!({ "role": role }));
                } else {
                    r.assert_error(403, NO_PERMISSION);
                    assert_eq!(w.stored(&w.project, &format!("by_{role}")), None);
                }
            }
        });
    }
}

backend_test! {
    fn every_role_on_delete(db) {
        let w = World::new(&db);
        run(async {
            let path = w.item_path("delete", &w.project, ITEM);
            for role in ROLES {
                restore_item(&w);
                let r = w.delete(&path, As::User(role)).await;
                if WRITERS.contains(role) {
                    assert_eq!(r.status, 200, "{role}: {}", r.text);
                    assert_eq!(w.stored(&w.project, ITEM), None);
                } else {
                    r.assert_error(403, NO_PERMISSION);
                    assert!(w.stored(&w.project, ITEM).is_some());
                }
            }
        });
    }
}

backend_test! {
    fn public_guest_access_lets_every_user_read_but_not_write(db) {
        let w = World::new(&db);
        w.app
            .registry
            .cache_unchecked()
            .set_cache_item_json(APP, ITEM, &JsonText::parse("[1]").unwrap(), Some(&w.public), None)
            .unwrap();
        run(async {
            for role in ["nobody", "viewer", "finder", "guest"] {
                let r = w.get(&w.item_path("retrieve", &w.public, ITEM), As::User(role)).await;
                assert_eq!(r.status, 200, "{role}");
                assert_eq!(r.json()["data"], json!([1]));
                let r = w.set(&w.item_path("set", &w.public, ITEM), As::User(role), json!(2)).await;
                r.assert_error(403, NO_PERMISSION);
                let r = w.delete(&w.item_path("delete", &w.public, ITEM), As::User(role)).await;
                r.assert_error(403, NO_PERMISSION);
            }
            // Inherited contributors may write in the public project too.
            let r = w.set(&w.item_path("set", &w.public, ITEM), As::User("cat_contributor"), json!(3)).await;
            assert_eq!(r.status, 200);
            // Anonymous access is off by default: 401, public or not.
            let r = w.get(&w.item_path("retrieve", &w.public, ITEM), As::Anonymous).await;
            r.assert_error(401, "Authentication credentials were not provided.");
            let challenges: Vec<_> = r.headers.get_all("www-authenticate").iter().collect();
            assert_eq!(challenges, ["Basic realm=\"api\", charset=\"UTF-8\"", "Token"]);
        });
    }
}

backend_test! {
    fn anonymous_reads_public_projects_only_when_allowed(db) {
        let w = World::with(&db, |s| s.allow_anonymous = true);
        w.app
            .registry
            .cache_unchecked()
            .set_cache_item_json(APP, ITEM, &JsonText::parse("[1]").unwrap(), Some(&w.public), None)
            .unwrap();
        run(async {
            let anon = As::Anonymous;
            assert_eq!(w.get(&w.item_path("retrieve", &w.public, ITEM), anon).await.status, 200);
            assert_eq!(w.get(&w.item_path("retrieve/date", &w.public, ITEM), anon).await.status, 200);
            assert_eq!(w.get(&format!("/cache/api/list/{}", w.public.uuid), anon).await.status, 200);
            let no_creds = "Authentication credentials were not provided.";
            w.set(&w.item_path("set", &w.public, ITEM), anon, json!(1)).await.assert_error(401, no_creds);
            w.delete(&w.item_path("delete", &w.public, ITEM), anon).await.assert_error(401, no_creds);
            // A project without public access stays closed.
            w.get(&w.item_path("retrieve", &w.project, ITEM), anon).await.assert_error(401, no_creds);
            // Unknown projects are 404 for anonymous callers once they may read at all.
            let unknown = format!("/cache/api/retrieve/{}/{APP}/{ITEM}", uuid::Uuid::new_v4());
            w.get(&unknown, anon).await.assert_error(404, "Not found.");
        });
    }
}

backend_test! {
    fn categories_are_refused_even_for_superusers(db) {
        let w = World::new(&db);
        run(async {
            let detail = "Project type \"CATEGORY\" not allowed for this API view";
            for role in ["superuser", "cat_owner", "nobody"] {
                w.get(&w.item_path("retrieve", &w.category, ITEM), As::User(role)).await.assert_error(403, detail);
                w.get(&w.item_path("retrieve/date", &w.category, ITEM), As::User(role)).await.assert_error(403, detail);
                w.set(&w.item_path("set", &w.category, ITEM), As::User(role), json!(1)).await.assert_error(403, detail);
                w.delete(&w.item_path("delete", &w.category, ITEM), As::User(role)).await.assert_error(403, detail);
                w.get(&format!("/cache/api/list/{}", w.category.uuid), As::User(role)).await.assert_error(403, detail);
            }
        });
    }
}
