//! The permission rules in SQL (`auth::visibility`, over the `project_ancestors`
//! closure table) agree with the rules in Rust (`best_role`, `permissions_map`) for
//! every user and project of a varied site, on both backends, and the migration's
//! backfill builds the same closure as project creation does.

mod common;

use std::collections::BTreeSet;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use sodarcache::auth::rules::{effective_role, permissions_map};
use sodarcache::auth::visibility::{
    manageable_project_ids, readable_project_ids, readable_projects_sql, role_in_project,
};
use sodarcache::db::DbConn;
use sodarcache::db::models::{Project, PublicAccess, Role, User};
use sodarcache::db::schema::{project_ancestors, projects};

use common::fixtures as fx;

/// Three levels of categories, projects at every level, public projects, and users with
/// roles at several levels (stronger and weaker than inherited ones, finders, viewers).
fn varied_site(conn: &mut DbConn) -> (Vec<User>, Vec<Project>) {
    let top = fx::category(conn, "Top", None);
    let mid = fx::category(conn, "Mid", Some(&top));
    let low = fx::category(conn, "Low", Some(&mid));
    let other = fx::category(conn, "Other", None);
    let p_top = fx::project(conn, "P top", Some(&top), None);
    let p_mid = fx::project(conn, "P mid", Some(&mid), None);
    let p_low = fx::project(conn, "P low", Some(&low), None);
    let p_low2 = fx::project(conn, "P low 2", Some(&low), Some(PublicAccess::Viewer));
    let p_public = fx::project(conn, "P public", Some(&other), Some(PublicAccess::Guest));
    let p_root = fx::project(conn, "P root", None, None);
    let projects = vec![
        top, mid, low, other, p_top, p_mid, p_low, p_low2, p_public, p_root,
    ];
    let [
        top,
        mid,
        low,
        other,
        p_top,
        p_mid,
        p_low,
        p_low2,
        p_public,
        p_root,
    ] = projects.iter().collect::<Vec<_>>()[..]
    else {
        unreachable!()
    };
    let mut users = Vec::new();
    let mut user = |conn: &mut DbConn, name: &str, su: bool, roles: &[(&Project, Role)]| {
        let u = fx::user(conn, name, su);
        for (p, r) in roles {
            fx::role(conn, p, &u, *r);
        }
        users.push(u);
    };
    user(conn, "root", true, &[]);
    user(conn, "nobody", false, &[]);
    user(conn, "topowner", false, &[(top, Role::Owner)]);
    user(
        conn,
        "mixed",
        false,
        &[
            (top, Role::Guest),
            (mid, Role::Delegate),
            (p_low, Role::Viewer),
        ],
    );
    user(
        conn,
        "finder",
        false,
        &[(mid, Role::Finder), (p_low2, Role::Contributor)],
    );
    user(
        conn,
        "viewer",
        false,
        &[(low, Role::Viewer), (p_public, Role::Viewer)],
    );
    user(
        conn,
        "contrib",
        false,
        &[
            (other, Role::Contributor),
            (p_root, Role::Guest),
            (p_mid, Role::Owner),
        ],
    );
    user(
        conn,
        "deep",
        false,
        &[
            (low, Role::Delegate),
            (p_top, Role::Viewer),
            (p_root, Role::Contributor),
        ],
    );
    (users, projects)
}

fn ids(conn: &mut DbConn, q: impl FnOnce(&mut DbConn) -> Vec<i64>) -> BTreeSet<i64> {
    q(conn).into_iter().collect()
}

/// The projects [`readable_projects_sql`] selects (the overview's form of the rule).
fn readable_by_listing_sql(conn: &mut DbConn, user: &User) -> BTreeSet<i64> {
    ids(conn, |c| {
        projects::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                &readable_projects_sql(user),
            ))
            .select(projects::id)
            .load(c)
            .unwrap()
    })
}

fn assert_sql_agrees_with_rust(conn: &mut DbConn, users: &[User], projects: &[Project]) {
    for user in users {
        for project in projects {
            assert_eq!(
                role_in_project(conn, user, project).unwrap(),
                effective_role(conn, user, project).unwrap(),
                "role of {} in {}",
                user.username,
                project.full_title
            );
        }
        let perms = permissions_map(conn, user).unwrap();
        let want = |f: fn(&sodarcache::auth::Permissions) -> bool| -> BTreeSet<i64> {
            perms
                .values()
                .filter(|(p, perm)| !p.is_category() && f(perm))
                .map(|(p, _)| p.id)
                .collect()
        };
        let readable = ids(conn, |c| readable_project_ids(user).load(c).unwrap());
        assert_eq!(readable, want(|p| p.read), "readable by {}", user.username);
        assert_eq!(
            readable_by_listing_sql(conn, user),
            readable,
            "listing SQL of {}",
            user.username
        );
        let manageable = ids(conn, |c| manageable_project_ids(user).load(c).unwrap());
        assert_eq!(
            manageable,
            want(|p| p.manage),
            "manageable by {}",
            user.username
        );
    }
}

fn closure(conn: &mut DbConn) -> Vec<(i64, i64, i32)> {
    project_ancestors::table
        .select((
            project_ancestors::project_id,
            project_ancestors::ancestor_id,
            project_ancestors::depth,
        ))
        .order((
            project_ancestors::project_id,
            project_ancestors::ancestor_id,
        ))
        .load(conn)
        .unwrap()
}

backend_test! {
    fn sql_roles_and_visibility_agree_with_the_rust_rules(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let (users, projects) = varied_site(conn);
        assert_sql_agrees_with_rust(conn, &users, &projects);
        // Every project has itself at depth 0 and one row per ancestor.
        let rows = closure(conn);
        // Chains: Top 1, Mid 2, Low 3, Other 1, P top 2, P mid 3, P low 4, P low 2 4,
        // P public 2, P root 1.
        assert_eq!(rows.len(), 23);
        assert!(rows.iter().any(|&(p, a, d)| p == projects[6].id && a == projects[0].id && d == 3));
    }
}

backend_test! {
    fn the_migration_backfills_the_same_closure_as_project_creation(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let (users, projects) = varied_site(conn);
        let written = closure(conn);
        let flavour = match db.backend {
            common::Backend::Sqlite => "sqlite",
            common::Backend::Postgres => "postgres",
        };
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(flavour)
            .join("2026-12-01-800001_project_ancestors");
        let sql = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        conn.batch_execute(&sql("down.sql")).unwrap();
        conn.batch_execute(&sql("up.sql")).unwrap();
        assert_eq!(closure(conn), written);
        assert_sql_agrees_with_rust(conn, &users, &projects);
    }
}

backend_test! {
    fn a_blocked_project_is_readable_and_manageable_by_superusers_only(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let (users, projects) = varied_site(conn);
        let public = projects.iter().find(|p| p.title == "P public").unwrap();
        let owned = projects.iter().find(|p| p.title == "P top").unwrap();
        for p in [public, owned] {
            sodarcache::db::models::ProjectBlock::block(conn, p).unwrap();
        }
        for user in &users {
            let readable = ids(conn, |c| readable_project_ids(user).load(c).unwrap());
            assert_eq!(readable_by_listing_sql(conn, user), readable, "listing SQL of {}", user.username);
            let manageable = ids(conn, |c| manageable_project_ids(user).load(c).unwrap());
            for p in [public, owned] {
                assert_eq!(readable.contains(&p.id), user.is_superuser, "{} reads {}", user.username, p.title);
                assert_eq!(manageable.contains(&p.id), user.is_superuser, "{} manages {}", user.username, p.title);
            }
        }
    }
}
