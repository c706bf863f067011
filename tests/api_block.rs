//! The project access block (`sodarcache project block UUID`) over HTTP, and the
//! one-statement token gate under change: a block, a removed role, a deactivated user
//! and a deleted token all count from the very next request (nothing is cached).

mod api_helpers;
mod common;
#[path = "common/web.rs"]
mod web;

use api_helpers::{As, ITEM, World, run};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;
use sodarcache::db::models::ProjectBlock;
use sodarcache::db::schema::{api_tokens, role_assignments, users};
use web::{get, logged_in};

const BLOCKED: &str =
    "Access to project temporarily blocked by an administrator, please try again later";

backend_test! {
    fn a_blocked_project_answers_non_superusers_403_on_every_endpoint_and_page(db) {
        let w = World::new(&db);
        assert!(ProjectBlock::block(&mut w.app.conn(), &w.project).unwrap());
        run(async {
            let retrieve = w.item_path("retrieve", &w.project, ITEM);
            let date = w.item_path("retrieve/date", &w.project, ITEM);
            let set = w.item_path("set", &w.project, "new");
            let delete = w.item_path("delete", &w.project, ITEM);
            let list = format!("/cache/api/list/{}", w.project.uuid);
            for who in ["owner", "guest", "cat_owner"] {
                w.get(&retrieve, As::User(who)).await.assert_error(403, BLOCKED);
                w.get(&date, As::User(who)).await.assert_error(403, BLOCKED);
                w.get(&list, As::User(who)).await.assert_error(403, BLOCKED);
                w.set(&set, As::User(who), json!(1)).await.assert_error(403, BLOCKED);
                w.delete(&delete, As::User(who)).await.assert_error(403, BLOCKED);
            }
            // A bad token is still a 401: credentials come before the block.
            let r = api_helpers::send(
                w.client
                    .get(w.app.url(&retrieve))
                    .header("Authorization", format!("token {}", "0".repeat(64))),
            )
            .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
            // Superusers pass.
            assert_eq!(w.get(&retrieve, As::User("superuser")).await.status, 200);
            assert_eq!(w.get(&date, As::User("superuser")).await.status, 200);
            assert_eq!(w.set(&set, As::User("superuser"), json!(2)).await.status, 200);
            // The admin pages of the project too.
            let owner = logged_in(&w.app, "owner").await;
            let page = format!("/cache/project/{}", w.project.uuid);
            let (status, body) = get(&owner, &w.app, &page).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert!(body.contains(BLOCKED), "{body}");
            let admin = logged_in(&w.app, "superuser").await;
            assert_eq!(get(&admin, &w.app, &page).await.0, StatusCode::OK);
        });
        assert!(ProjectBlock::unblock(&mut w.app.conn(), &w.project).unwrap());
        run(async {
            let retrieve = w.item_path("retrieve", &w.project, ITEM);
            assert_eq!(w.get(&retrieve, As::User("owner")).await.status, 200);
        });
    }
}

backend_test! {
    fn role_removal_deactivation_and_token_deletion_count_from_the_next_retrieve(db) {
        let w = World::new(&db);
        let retrieve = w.item_path("retrieve", &w.project, ITEM);
        let id = |name: &str| w.users[name].id;
        run(async {
            assert_eq!(w.get(&retrieve, As::User("contributor")).await.status, 200);
            diesel::delete(role_assignments::table.filter(role_assignments::user_id.eq(id("contributor"))))
                .execute(&mut **w.app.conn())
                .unwrap();
            w.get(&retrieve, As::User("contributor"))
                .await
                .assert_error(403, "You do not have permission to perform this action.");

            assert_eq!(w.get(&retrieve, As::User("delegate")).await.status, 200);
            diesel::update(users::table.find(id("delegate")))
                .set(users::is_active.eq(false))
                .execute(&mut **w.app.conn())
                .unwrap();
            w.get(&retrieve, As::User("delegate")).await.assert_error(401, "Invalid token.");

            assert_eq!(w.get(&retrieve, As::User("owner")).await.status, 200);
            diesel::delete(api_tokens::table.filter(api_tokens::user_id.eq(id("owner"))))
                .execute(&mut **w.app.conn())
                .unwrap();
            w.get(&retrieve, As::User("owner")).await.assert_error(401, "Invalid token.");
        });
    }
}
