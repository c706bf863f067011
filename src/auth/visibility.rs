//! The permission rules as SQL: "which projects may this user read" and "what is this
//! user's role in that project" decided inside a query, over the `project_ancestors`
//! closure table (every project with each of its ancestors and the distance to it).
//!
//! They agree with [`best_role`](super::rules::best_role) and
//! [`Permissions::for_role`](super::Permissions::for_role) (a test compares them on a
//! varied fixture on both backends). Use them where a listing must be filtered by
//! permission without loading every project first:
//!
//! ```ignore
//! // Jobs of projects `user` may read, paginated in the database:
//! sync_jobs::table.filter(sync_jobs::project_id.eq_any(readable_project_ids(user)))
//! // The role that decides what `user` may do in `project`, in one query:
//! let role = role_in_project(conn, user, project)?;
//! ```

use diesel::dsl::{self, sql};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer};

use crate::db::DbConn;
use crate::db::models::{Project, ProjectType, PublicAccess, Role, User};
use crate::db::schema::{project_access_blocks, project_ancestors, projects, role_assignments};

/// The roles that may read a project's cache.
const READ_ROLES: [Role; 4] = [Role::Owner, Role::Delegate, Role::Contributor, Role::Guest];
/// The roles that may sync and delete a project's cache.
const MANAGE_ROLES: [Role; 2] = [Role::Owner, Role::Delegate];

/// `SELECT project_id` of the projects and categories where `user_id` holds one of
/// `roles` on the project itself or an ancestor.
#[dsl::auto_type]
fn holding_role(user_id: i64, roles: Vec<Role>) -> _ {
    let on: dsl::Eq<role_assignments::project_id, project_ancestors::ancestor_id> =
        role_assignments::project_id.eq(project_ancestors::ancestor_id);
    project_ancestors::table
        .inner_join(role_assignments::table.on(on))
        .filter(role_assignments::user_id.eq(user_id))
        .filter(role_assignments::role.eq_any(roles))
        .select(project_ancestors::project_id)
}

/// The condition on `projects` of the projects (type PROJECT, never categories) whose
/// cache `user` may read: every project for a superuser; otherwise those where the
/// user holds owner, delegate, contributor or guest on the project or a parent
/// category, and those with public guest access; never a blocked project (issue 10's
/// `project block`). For queries over `projects` itself
/// (Diesel cannot nest `projects` in a subquery of `projects`):
/// `projects::table.filter(readable_projects(user))`.
///
/// A role grants read exactly when its rank is at most guest's, so "the best role
/// reads" is "some role along the chain reads": no ranking is needed here.
#[dsl::auto_type]
pub fn readable_projects(user: &User) -> _ {
    let kind: ProjectType = ProjectType::Project;
    let everything: dsl::AsExprOf<bool, Bool> = user.is_superuser.into_sql::<Bool>();
    let guest: PublicAccess = PublicAccess::Guest;
    let public: dsl::Eq<projects::public_access, PublicAccess> = projects::public_access.eq(guest);
    let by_role: holding_role = holding_role(user.id, READ_ROLES.to_vec());
    let blocked: blocked_ids = blocked_ids();
    projects::project_type.eq(kind).and(
        everything.or(public
            .or(projects::id.eq_any(by_role))
            .and(projects::id.ne_all(blocked))),
    )
}

/// [`readable_projects`](fn@readable_projects) as SQL text over `projects`, shaped for listings that sort and
/// page what a user may read: the readable set is one `IN` of a `UNION` (the projects
/// under the user's roles, by the `role_assignments_user` and closure indexes, and the
/// public ones, by a partial index), so the planner starts from that set instead of
/// testing every project. For a superuser it is just "every project". The same rule
/// (a test compares the two on a varied site on both backends).
pub fn readable_projects_sql(user: &User) -> String {
    let kind = format!(
        "projects.project_type = '{}'",
        ProjectType::Project.as_str()
    );
    if user.is_superuser {
        return kind;
    }
    let roles: Vec<String> = READ_ROLES
        .iter()
        .map(|r| format!("'{}'", r.as_str()))
        .collect();
    format!(
        "{kind} AND projects.id IN (\
         SELECT rp.project_id FROM project_ancestors rp \
         JOIN role_assignments rr ON rr.project_id = rp.ancestor_id \
         WHERE rr.user_id = {user_id} AND rr.role IN ({roles}) \
         UNION SELECT pp.id FROM projects pp WHERE pp.public_access = '{guest}') \
         AND projects.id NOT IN (SELECT pb.project_id FROM project_access_blocks pb)",
        user_id = user.id,
        roles = roles.join(", "),
        guest = PublicAccess::Guest.as_str(),
    )
}

/// `SELECT project_id` of the projects whose access an administrator blocked
/// (`sodarcache project block`): closed to everyone but superusers.
#[dsl::auto_type]
fn blocked_ids() -> _ {
    project_access_blocks::table.select(project_access_blocks::project_id)
}

/// `SELECT projects.id` of the projects whose cache `user` may read (see
/// `readable_projects`), for other tables:
/// `sync_jobs::project_id.assume_not_null().eq_any(readable_project_ids(user))`.
#[dsl::auto_type]
pub fn readable_project_ids(user: &User) -> _ {
    let readable: readable_projects = readable_projects(user);
    projects::table.filter(readable).select(projects::id)
}

/// `SELECT projects.id` of the projects whose cache `user` may sync and delete: owner
/// or delegate on the project or a parent category; every project for a superuser.
#[dsl::auto_type]
pub fn manageable_project_ids(user: &User) -> _ {
    let kind: ProjectType = ProjectType::Project;
    let everything: dsl::AsExprOf<bool, Bool> = user.is_superuser.into_sql::<Bool>();
    let by_role: holding_role = holding_role(user.id, MANAGE_ROLES.to_vec());
    let blocked: blocked_ids = blocked_ids();
    projects::table
        .filter(projects::project_type.eq(kind))
        .filter(
            everything.or(projects::id
                .eq_any(by_role)
                .and(projects::id.ne_all(blocked))),
        )
        .select(projects::id)
}

/// SQL rank of a stored role name (lower is stronger), as [`Role::rank`].
fn rank_sql() -> diesel::expression::SqlLiteral<Integer> {
    sql::<Integer>(&rank_case())
}

/// The text of [`rank_sql`], for statements that embed it in a larger SQL fragment.
pub(crate) fn rank_case() -> String {
    let mut case = String::from("CASE role_assignments.role");
    for role in Role::VARIANTS {
        case.push_str(&format!(" WHEN '{}' THEN {}", role.as_str(), role.rank()));
    }
    case.push_str(" ELSE 1000 END");
    case
}

/// `user`'s role in `project` in one query: the strongest assignment on the project and
/// its ancestors that is valid for the project's type, the nearer one on a tie, as
/// [`best_role`](super::rules::best_role). Public access is not a role (see
/// [`Permissions::for_role`](super::Permissions::for_role)); superusers need no role.
pub fn role_in_project(
    conn: &mut DbConn,
    user: &User,
    project: &Project,
) -> QueryResult<Option<Role>> {
    let mut q = project_ancestors::table
        .inner_join(
            role_assignments::table
                .on(role_assignments::project_id.eq(project_ancestors::ancestor_id)),
        )
        .filter(project_ancestors::project_id.eq(project.id))
        .filter(role_assignments::user_id.eq(user.id))
        .select(role_assignments::role)
        .order((rank_sql().asc(), project_ancestors::depth.asc()))
        .into_boxed();
    if !project.is_category() {
        q = q.filter(role_assignments::role.ne(Role::Finder));
    }
    q.first(conn).optional()
}
