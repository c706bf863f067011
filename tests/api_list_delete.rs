//! Beyond upstream: listing a project's items (paginated, no data) and deleting one.

mod api_helpers;
mod common;

use api_helpers::{APP, As, ITEM, World, run};
use serde_json::json;
use sodarcache::db::JsonText;
use sodarcache::db::Scope;
use sodarcache::db::models::Event;
use sodarcache::db::models::Origin;

backend_test! {
    fn list_pages_through_items_without_their_data(db) {
        let w = World::new(&db);
        let cache = w.app.registry.cache_unchecked();
        for i in 0..4 {
            let data = JsonText::parse(&format!("{{\"i\": {i}}}")).unwrap();
            cache.set_cache_item_json(APP, &format!("n{i}"), &data, Some(&w.project), None).unwrap();
        }
        run(async {
            let base = format!("/cache/api/list/{}", w.project.uuid);
            let r = w.get(&format!("{base}?page_size=2"), As::User("guest")).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.assert_media("2.0");
            let page = r.json();
            assert_eq!(page["count"], 5);
            assert_eq!(page["previous"], json!(null));
            let next = page["next"].as_str().unwrap();
            assert!(next.ends_with(&format!("{base}?page=2&page_size=2")), "{next}");
            let names: Vec<&str> = page["results"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
            assert_eq!(names, ["item", "n0"]);
            let first = &page["results"][0];
            assert!(first.get("data").is_none());
            assert_eq!(first["app_name"], APP);
            assert_eq!(first["user"], json!(w.users["owner"].uuid.to_string()));
            assert!(first["size"].as_i64().unwrap() > 0);
            assert!(first["date_modified"].as_str().unwrap().ends_with('Z'));
            let last = w.get(&format!("{base}?page=3&page_size=2"), As::User("guest")).await.json();
            assert_eq!(last["next"], json!(null));
            assert!(last["previous"].as_str().unwrap().ends_with("page=2&page_size=2"));
            assert_eq!(last["results"].as_array().unwrap().len(), 1);
            let by_app = w.get(&format!("{base}?app={APP}"), As::User("guest")).await.json();
            assert_eq!(by_app["count"], 5);
            // An empty project lists nothing, on page 1 only.
            let empty = w.get(&format!("/cache/api/list/{}", w.public.uuid), As::User("guest")).await.json();
            assert_eq!(empty, json!({"count": 0, "next": null, "previous": null, "results": []}));
        });
    }
}

backend_test! {
    fn delete_removes_one_item_and_records_an_event(db) {
        let w = World::new(&db);
        run(async {
            let path = w.item_path("delete", &w.project, ITEM);
            let r = w.delete(&path, As::User("contributor")).await;
            assert_eq!(r.status, 200, "{}", r.text);
            r.assert_media("2.0");
            assert_eq!(r.json(), json!({"detail": "ok"}));
            assert_eq!(w.stored(&w.project, ITEM), None);
            w.delete(&path, As::User("contributor")).await.assert_error(404, "Not found.");
            w.get(&w.item_path("retrieve", &w.project, ITEM), As::User("owner")).await.assert_error(404, "Not found.");
            let events = Event::list(&mut w.app.conn(), Some(Scope::Project(w.project.id)), 10).unwrap();
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].event_name, "cache_delete");
            assert_eq!(events[0].origin, Origin::Api);
            assert_eq!(events[0].user_id, Some(w.users["contributor"].id));
        });
    }
}
