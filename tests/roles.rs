//! Roles, permissions and project rules, as upstream's `projectroles` has them.

mod common;

use sodarcache::Error;
use sodarcache::auth::rules::{Access, Permissions, effective_role};
use sodarcache::db::DbConn;
use sodarcache::db::models::{
    NewProject, Project, ProjectType, PublicAccess, Role, RoleAssignment,
};

use common::fixtures as fx;

fn role_of(
    conn: &mut DbConn,
    user: &sodarcache::db::models::User,
    project: &Project,
) -> Option<Role> {
    effective_role(conn, user, project).unwrap()
}

backend_test! {
    fn category_owner_is_owner_in_child_project(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let user = fx::user(conn, "alice", false);
        let top = fx::category(conn, "Top", None);
        let sub = fx::category(conn, "Sub", Some(&top));
        let project = fx::project(conn, "Proj", Some(&sub), None);
        fx::role(conn, &top, &user, Role::Owner);
        assert_eq!(role_of(conn, &user, &project), Some(Role::Owner));
        assert_eq!(role_of(conn, &user, &sub), Some(Role::Owner));
        let other = fx::user(conn, "bob", false);
        assert_eq!(role_of(conn, &other, &project), None);
    }
}

backend_test! {
    fn lowest_rank_wins_along_the_chain(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let cat = fx::category(conn, "Cat", None);
        let project = fx::project(conn, "Proj", Some(&cat), None);
        // Weaker inherited role, stronger own role.
        let alice = fx::user(conn, "alice", false);
        fx::role(conn, &cat, &alice, Role::Guest);
        fx::role(conn, &project, &alice, Role::Contributor);
        assert_eq!(role_of(conn, &alice, &project), Some(Role::Contributor));
        // Stronger inherited role, weaker own role.
        let bob = fx::user(conn, "bob", false);
        fx::role(conn, &cat, &bob, Role::Delegate);
        fx::role(conn, &project, &bob, Role::Viewer);
        assert_eq!(role_of(conn, &bob, &project), Some(Role::Delegate));
    }
}

backend_test! {
    fn equal_rank_on_category_and_project_gives_that_role(db) {
        // Ranks are unique per role, so a tie yields the same role whichever assignment
        // wins; this pins that a tie is still resolved to a role, not dropped.
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let cat = fx::category(conn, "Cat", None);
        let project = fx::project(conn, "Proj", Some(&cat), None);
        let alice = fx::user(conn, "alice", false);
        fx::role(conn, &cat, &alice, Role::Contributor);
        fx::role(conn, &project, &alice, Role::Contributor);
        assert_eq!(role_of(conn, &alice, &project), Some(Role::Contributor));
        assert_eq!(role_of(conn, &alice, &cat), Some(Role::Contributor));
    }
}

backend_test! {
    fn category_finder_has_no_role_in_child_projects_but_in_subcategories(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let cat = fx::category(conn, "Cat", None);
        let sub = fx::category(conn, "Sub", Some(&cat));
        let project = fx::project(conn, "Proj", Some(&sub), None);
        let user = fx::user(conn, "finder", false);
        fx::role(conn, &cat, &user, Role::Finder);
        assert_eq!(role_of(conn, &user, &cat), Some(Role::Finder));
        assert_eq!(role_of(conn, &user, &sub), Some(Role::Finder));
        assert_eq!(role_of(conn, &user, &project), None);
        let perms = Permissions::resolve(conn, Access::User(&user), &project, false).unwrap();
        assert_eq!(perms, Permissions::NONE);
    }
}

backend_test! {
    fn finder_role_on_a_project_is_rejected(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let project = fx::project(conn, "Proj", None, None);
        let user = fx::user(conn, "alice", false);
        let err = RoleAssignment::set(conn, &project, &user, Role::Finder).unwrap_err();
        assert!(matches!(err, Error::BadRequest(_)), "{err:?}");
        assert_eq!(err.to_string(), "Role \"finder\" is only allowed in categories");
        assert_eq!(role_of(conn, &user, &project), None);
    }
}

backend_test! {
    fn second_owner_in_a_project_is_a_conflict(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let project = fx::project(conn, "Proj", None, None);
        let alice = fx::user(conn, "alice", false);
        let bob = fx::user(conn, "bob", false);
        fx::role(conn, &project, &alice, Role::Owner);
        let err = RoleAssignment::set(conn, &project, &bob, Role::Owner).unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        assert!(err.to_string().contains("already has an owner"), "{err}");
        assert_eq!(role_of(conn, &bob, &project), None);
        // Setting the owner again, or another role for the other user, is fine.
        fx::role(conn, &project, &alice, Role::Owner);
        fx::role(conn, &project, &bob, Role::Delegate);
        assert_eq!(role_of(conn, &bob, &project), Some(Role::Delegate));
    }
}

backend_test! {
    fn setting_a_role_replaces_the_previous_one(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let project = fx::project(conn, "Proj", None, None);
        let alice = fx::user(conn, "alice", false);
        fx::role(conn, &project, &alice, Role::Guest);
        fx::role(conn, &project, &alice, Role::Contributor);
        assert_eq!(RoleAssignment::for_user(conn, alice.id).unwrap().len(), 1);
        assert_eq!(role_of(conn, &alice, &project), Some(Role::Contributor));
    }
}

backend_test! {
    fn roles_grant_cache_permissions_as_the_rule_table_says(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let project = fx::project(conn, "Proj", None, None);
        let expected = [
            (Role::Owner, Permissions::ALL),
            (Role::Delegate, Permissions::ALL),
            (Role::Contributor, Permissions { read: true, write: true, delete_item: true, manage: false }),
            (Role::Guest, Permissions { read: true, ..Permissions::NONE }),
            (Role::Viewer, Permissions::NONE),
        ];
        for (role, perms) in expected {
            let user = fx::user(conn, role.as_str(), false);
            fx::role(conn, &project, &user, role);
            let got = Permissions::resolve(conn, Access::User(&user), &project, true).unwrap();
            assert_eq!(got, perms, "{role}");
        }
        let nobody = fx::user(conn, "nobody", false);
        assert_eq!(Permissions::resolve(conn, Access::User(&nobody), &project, true).unwrap(), Permissions::NONE);
    }
}

backend_test! {
    fn public_guest_access_lets_every_user_read_but_not_write(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let project = fx::project(conn, "Public", None, Some(PublicAccess::Guest));
        let nobody = fx::user(conn, "nobody", false);
        let perms = Permissions::resolve(conn, Access::User(&nobody), &project, false).unwrap();
        assert!(perms.read);
        assert!(!perms.write && !perms.delete_item && !perms.manage);
        // A viewer there is lifted to guest; a contributor keeps writing.
        let viewer = fx::user(conn, "viewer", false);
        fx::role(conn, &project, &viewer, Role::Viewer);
        assert_eq!(Permissions::resolve(conn, Access::User(&viewer), &project, false).unwrap(), perms);
        let contributor = fx::user(conn, "contributor", false);
        fx::role(conn, &project, &contributor, Role::Contributor);
        assert!(Permissions::resolve(conn, Access::User(&contributor), &project, false).unwrap().write);
    }
}

backend_test! {
    fn public_viewer_access_grants_no_cache_read(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let project = fx::project(conn, "Public", None, Some(PublicAccess::Viewer));
        let nobody = fx::user(conn, "nobody", false);
        assert_eq!(Permissions::resolve(conn, Access::User(&nobody), &project, true).unwrap(), Permissions::NONE);
        assert_eq!(Permissions::resolve(conn, Access::Anonymous, &project, true).unwrap(), Permissions::NONE);
    }
}

backend_test! {
    fn anonymous_reads_only_public_guest_projects_when_allowed(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let public = fx::project(conn, "Public", None, Some(PublicAccess::Guest));
        let private = fx::project(conn, "Private", None, None);
        let read_only = Permissions { read: true, ..Permissions::NONE };
        assert_eq!(Permissions::resolve(conn, Access::Anonymous, &public, true).unwrap(), read_only);
        assert_eq!(Permissions::resolve(conn, Access::Anonymous, &public, false).unwrap(), Permissions::NONE);
        assert_eq!(Permissions::resolve(conn, Access::Anonymous, &private, true).unwrap(), Permissions::NONE);
    }
}

backend_test! {
    fn superuser_may_do_everything_without_a_role(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let cat = fx::category(conn, "Cat", None);
        let project = fx::project(conn, "Proj", Some(&cat), None);
        let admin = fx::user(conn, "admin", true);
        assert_eq!(role_of(conn, &admin, &project), None);
        assert_eq!(Permissions::resolve(conn, Access::User(&admin), &project, false).unwrap(), Permissions::ALL);
        assert_eq!(Permissions::resolve(conn, Access::User(&admin), &cat, false).unwrap(), Permissions::ALL);
    }
}

fn create(
    conn: &mut DbConn,
    title: &str,
    kind: ProjectType,
    parent: Option<&Project>,
    public: Option<PublicAccess>,
) -> sodarcache::Result<Project> {
    Project::create(
        conn,
        &NewProject {
            title,
            project_type: kind,
            parent,
            description: "",
            public_access: public,
        },
    )
}

fn bad_request(result: sodarcache::Result<Project>) -> String {
    match result {
        Err(Error::BadRequest(m)) => m,
        other => panic!("expected a bad request, got {other:?}"),
    }
}

backend_test! {
    fn project_under_a_project_is_rejected(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let parent = fx::project(conn, "Parent", None, None);
        let msg = bad_request(create(conn, "Child", ProjectType::Project, Some(&parent), None));
        assert_eq!(msg, "Subprojects are only allowed within categories");
        let msg = bad_request(create(conn, "Child", ProjectType::Category, Some(&parent), None));
        assert_eq!(msg, "Subprojects are only allowed within categories");
    }
}

backend_test! {
    fn title_equal_to_the_parents_is_rejected(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let cat = fx::category(conn, "Same", None);
        let msg = bad_request(create(conn, "Same", ProjectType::Project, Some(&cat), None));
        assert_eq!(msg, "Project and parent titles can not be equal");
    }
}

backend_test! {
    fn title_with_the_path_separator_is_rejected(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let msg = bad_request(create(conn, "A / B", ProjectType::Project, None, None));
        assert_eq!(msg, "Title may not contain \" / \"");
        // A slash without the spaces is a normal character.
        create(conn, "A/B", ProjectType::Project, None, None).unwrap();
    }
}

backend_test! {
    fn public_access_on_a_category_is_rejected(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let msg = bad_request(create(conn, "Cat", ProjectType::Category, None, Some(PublicAccess::Guest)));
        assert_eq!(msg, "Public guest access is not allowed for categories");
        bad_request(create(conn, "Cat", ProjectType::Category, None, Some(PublicAccess::Viewer)));
    }
}

backend_test! {
    fn categories_can_not_be_archived_but_projects_can(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let cat = fx::category(conn, "Cat", None);
        let project = fx::project(conn, "Proj", Some(&cat), None);
        assert!(matches!(Project::set_archive(conn, &cat, true), Err(Error::BadRequest(_))));
        Project::set_archive(conn, &project, true).unwrap();
        assert!(Project::find_by_id(conn, project.id).unwrap().unwrap().archive);
    }
}

backend_test! {
    fn duplicate_title_in_the_same_parent_is_a_conflict(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let cat = fx::category(conn, "Cat", None);
        let other = fx::category(conn, "Other", None);
        fx::project(conn, "Proj", Some(&cat), None);
        let err = create(conn, "Proj", ProjectType::Project, Some(&cat), None).unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        assert_eq!(err.to_string(), "Title \"Proj\" is already in use in this category");
        // Top level counts as one parent too.
        let err = create(conn, "Cat", ProjectType::Category, None, None).unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err:?}");
        // The same title under another parent is fine.
        create(conn, "Proj", ProjectType::Project, Some(&other), None).unwrap();
    }
}

backend_test! {
    fn full_title_joins_parent_and_child(db) {
        let pool = db.pool();
        let conn = &mut **pool.get().unwrap();
        let parent = fx::category(conn, "Parent", None);
        let child = fx::category(conn, "Child", Some(&parent));
        let project = fx::project(conn, "Leaf", Some(&child), None);
        assert_eq!(parent.full_title, "Parent");
        assert_eq!(child.full_title, "Parent / Child");
        assert_eq!(project.full_title, "Parent / Child / Leaf");
        assert_eq!(project.log_title(), format!("\"Leaf\" ({})", project.uuid));
    }
}
