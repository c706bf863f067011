//! The six SODAR roles and their assignments to users in projects.

use std::str::FromStr;

use diesel::prelude::*;

use crate::db::schema::{role_assignments, users};
use crate::db::types::text_enum;
use crate::db::{DbConn, is_unique_violation};

use super::{Project, User};

text_enum! {
    /// A role in a project, strongest first. Lower rank is stronger.
    #[derive(PartialOrd, Ord)]
    pub enum Role {
        /// Rank 10; one per project.
        Owner = "owner",
        /// Rank 20.
        Delegate = "delegate",
        /// Rank 30.
        Contributor = "contributor",
        /// Rank 40; may read the cache.
        Guest = "guest",
        /// Rank 45; may see the project but not read the cache.
        Viewer = "viewer",
        /// Rank 50; categories only; no role in child projects.
        Finder = "finder",
    }
}

impl Role {
    /// Upstream's rank.
    pub fn rank(self) -> u8 {
        match self {
            Role::Owner => 10,
            Role::Delegate => 20,
            Role::Contributor => 30,
            Role::Guest => 40,
            Role::Viewer => 45,
            Role::Finder => 50,
        }
    }

    /// Whether the role is valid in a project of this kind (finder: categories only).
    pub fn valid_for(self, project: &Project) -> bool {
        self != Role::Finder || project.is_category()
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::parse(s).ok_or_else(|| {
            format!(
                "Unknown role \"{s}\" (roles: owner, delegate, contributor, guest, viewer, finder)"
            )
        })
    }
}

/// A user's role in one project or category.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = role_assignments)]
pub struct RoleAssignment {
    /// Row id.
    pub id: i64,
    /// The project or category.
    pub project_id: i64,
    /// The user.
    pub user_id: i64,
    /// The role.
    pub role: Role,
}

impl RoleAssignment {
    /// Gives `user` the `role` in `project`, replacing a role they had there.
    ///
    /// Errors: finder on a project; a second owner.
    pub fn set(
        conn: &mut DbConn,
        project: &Project,
        user: &User,
        role: Role,
    ) -> Result<RoleAssignment, crate::Error> {
        if !role.valid_for(project) {
            return Err(crate::Error::BadRequest(format!(
                "Role \"{role}\" is only allowed in categories"
            )));
        }
        let result = conn.transaction(|conn| {
            // Delete first: a write opens the SQLite transaction (see db/mod.rs).
            diesel::delete(
                role_assignments::table
                    .filter(role_assignments::project_id.eq(project.id))
                    .filter(role_assignments::user_id.eq(user.id)),
            )
            .execute(conn)?;
            let q = diesel::insert_into(role_assignments::table).values((
                role_assignments::project_id.eq(project.id),
                role_assignments::user_id.eq(user.id),
                role_assignments::role.eq(role),
            ));
            crate::on_backend!(conn, |c| q
                .returning(RoleAssignment::as_returning())
                .get_result(c))
        });
        result.map_err(|e| {
            if is_unique_violation(&e) {
                crate::Error::Conflict(format!(
                    "Project {} already has an owner",
                    project.log_title()
                ))
            } else {
                e.into()
            }
        })
    }

    /// Every assignment of a user.
    pub fn for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<RoleAssignment>> {
        role_assignments::table
            .filter(role_assignments::user_id.eq(user_id))
            .select(RoleAssignment::as_select())
            .load(conn)
    }

    /// Members of a project (direct assignments only) with their roles, by rank then
    /// username.
    pub fn members_of(conn: &mut DbConn, project_id: i64) -> QueryResult<Vec<(User, Role)>> {
        let mut members: Vec<(User, Role)> = role_assignments::table
            .inner_join(users::table)
            .filter(role_assignments::project_id.eq(project_id))
            .select((User::as_select(), role_assignments::role))
            .load(conn)?;
        members.sort_by(|a, b| {
            a.1.rank()
                .cmp(&b.1.rank())
                .then_with(|| a.0.username.cmp(&b.0.username))
        });
        Ok(members)
    }

    /// Members of a project (direct assignments only) as `(username, role)`, by rank.
    pub fn members(conn: &mut DbConn, project_id: i64) -> QueryResult<Vec<(String, Role)>> {
        let mut members: Vec<(String, Role)> = role_assignments::table
            .inner_join(users::table)
            .filter(role_assignments::project_id.eq(project_id))
            .select((users::username, role_assignments::role))
            .load(conn)?;
        members.sort_by(|a, b| a.1.rank().cmp(&b.1.rank()).then_with(|| a.0.cmp(&b.0)));
        Ok(members)
    }
}
