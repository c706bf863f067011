//! The permission rules, in one place, mirroring upstream's `projectroles` rules.
//!
//! | role (own or inherited)        | read cache | write cache | sync / delete |
//! |--------------------------------|------------|-------------|---------------|
//! | owner, delegate                | yes        | yes         | yes           |
//! | contributor                    | yes        | yes         | no            |
//! | guest, public `guest` access   | yes        | no          | no            |
//! | viewer, finder, none           | no         | no          | no            |
//!
//! Superusers may do everything. Site-wide items: [`site_permissions`].

use crate::db::DbConn;
use crate::db::models::{Project, PublicAccess, Role, RoleAssignment, User};

/// A user's role in a project: the strongest (lowest-rank) assignment on the project
/// and its parent categories that is valid for the project's type; on a tie the deeper
/// assignment wins. A category finder has no role in child projects.
pub fn effective_role(
    conn: &mut DbConn,
    user: &User,
    project: &Project,
) -> crate::Result<Option<Role>> {
    let chain = Project::with_ancestors(conn, project)?;
    // All of the user's assignments (a handful) in one statement the cache can keep;
    // `best_role` ignores those outside the chain.
    let assignments = RoleAssignment::for_user(conn, user.id)?;
    Ok(best_role(&chain, &assignments, project))
}

/// The pure part of [`effective_role`]: `chain` is the project then its ancestors.
pub fn best_role(
    chain: &[Project],
    assignments: &[RoleAssignment],
    project: &Project,
) -> Option<Role> {
    let mut best: Option<(Role, usize)> = None;
    for a in assignments {
        let role = a.role;
        if !role.valid_for(project) {
            continue;
        }
        let Some(depth) = chain.iter().position(|p| p.id == a.project_id) else {
            continue;
        };
        // Lower rank wins; on equal rank the assignment closer to the project wins.
        let better = match best {
            None => true,
            Some((r, d)) => role.rank() < r.rank() || (role.rank() == r.rank() && depth < d),
        };
        if better {
            best = Some((role, depth));
        }
    }
    best.map(|(r, _)| r)
}

/// What a user (or an anonymous visitor) may do in one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    /// Read items and update times.
    pub read: bool,
    /// Write items over the API.
    pub write: bool,
    /// Delete single items over the API (owner, delegate, contributor).
    pub delete_item: bool,
    /// Run a sync or delete the project's cache from the admin pages.
    pub manage: bool,
}

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub enum Access<'a> {
    /// Not logged in.
    Anonymous,
    /// A user.
    User(&'a User),
}

impl Permissions {
    /// Nothing allowed.
    pub const NONE: Permissions = Permissions {
        read: false,
        write: false,
        delete_item: false,
        manage: false,
    };

    /// Everything allowed.
    pub const ALL: Permissions = Permissions {
        read: true,
        write: true,
        delete_item: true,
        manage: true,
    };

    /// Permissions granted by a role (with public access folded in).
    pub fn for_role(role: Option<Role>, public: Option<PublicAccess>) -> Permissions {
        let role = match (role, public) {
            (Some(r), Some(PublicAccess::Guest)) if r.rank() > Role::Guest.rank() => {
                Some(Role::Guest)
            }
            (None, Some(PublicAccess::Guest)) => Some(Role::Guest),
            (r, _) => r,
        };
        match role {
            Some(Role::Owner | Role::Delegate) => Permissions::ALL,
            Some(Role::Contributor) => Permissions {
                read: true,
                write: true,
                delete_item: true,
                manage: false,
            },
            Some(Role::Guest) => Permissions {
                read: true,
                ..Permissions::NONE
            },
            _ => Permissions::NONE,
        }
    }

    /// What `who` may do in `project`. Anonymous visitors get public guest access only
    /// when `allow_anonymous` is set.
    pub fn resolve(
        conn: &mut DbConn,
        who: Access<'_>,
        project: &Project,
        allow_anonymous: bool,
    ) -> crate::Result<Permissions> {
        let public = if project.is_category() {
            None
        } else {
            project.public_access
        };
        match who {
            Access::User(u) if u.is_superuser => Ok(Permissions::ALL),
            Access::User(u) => Ok(Permissions::for_role(
                effective_role(conn, u, project)?,
                public,
            )),
            Access::Anonymous if allow_anonymous => Ok(Permissions::for_role(None, public)),
            Access::Anonymous => Ok(Permissions::NONE),
        }
    }
}

/// What `user` may do with the site-wide items (those of no project): superusers
/// everything; other users nothing, or read them when the operator opens them to all
/// (`SODARCACHE_SITE_ITEMS_READABLE_BY_ALL`): site-wide data can aggregate every
/// project, so it is not for every account by default. The admin pages and every API
/// use this rule.
pub fn site_permissions(user: &User, readable_by_all: bool) -> Permissions {
    if user.is_superuser {
        Permissions::ALL
    } else {
        Permissions {
            read: readable_by_all,
            ..Permissions::NONE
        }
    }
}

/// What `user` may do in every project, computed from two queries (all projects, the
/// user's assignments) rather than one walk per project. Categories are included.
pub fn permissions_map(
    conn: &mut DbConn,
    user: &User,
) -> crate::Result<std::collections::HashMap<i64, (Project, Permissions)>> {
    let projects = Project::list(conn)?;
    let assignments = if user.is_superuser {
        Vec::new()
    } else {
        RoleAssignment::for_user(conn, user.id)?
    };
    let by_id: std::collections::HashMap<i64, &Project> =
        projects.iter().map(|p| (p.id, p)).collect();
    let mut out = std::collections::HashMap::with_capacity(projects.len());
    for project in &projects {
        let perms = if user.is_superuser {
            Permissions::ALL
        } else {
            let mut chain = vec![project.clone()];
            let mut next = project.parent_id;
            while let Some(parent) = next.and_then(|id| by_id.get(&id)) {
                if chain.len() > 64 {
                    break;
                }
                chain.push((*parent).clone());
                next = parent.parent_id;
            }
            let public = if project.is_category() {
                None
            } else {
                project.public_access
            };
            Permissions::for_role(best_role(&chain, &assignments, project), public)
        };
        out.insert(project.id, (project.clone(), perms));
    }
    Ok(out)
}
