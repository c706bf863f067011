//! [`Scope`]: where a cache item, a sync job or an event lives — the site, or one
//! project. Rows store it as a nullable project id (and, for items, the generated
//! `project_key = COALESCE(project_id, 0)`); that encoding stays inside `db/`.

use super::models::Project;

/// The site-wide scope, or one project (by row id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Site-wide: items and jobs that belong to no project.
    #[default]
    Site,
    /// One project.
    Project(i64),
}

impl Scope {
    /// The scope of `project`; none is the site.
    pub fn of(project: Option<&Project>) -> Self {
        project.map_or(Scope::Site, |p| Scope::Project(p.id))
    }

    /// From a nullable `project_id` column.
    pub fn from_project_id(project_id: Option<i64>) -> Self {
        project_id.map_or(Scope::Site, Scope::Project)
    }

    /// The project's row id; none for the site.
    pub fn project_id(self) -> Option<i64> {
        match self {
            Scope::Site => None,
            Scope::Project(id) => Some(id),
        }
    }

    /// Whether this is the site-wide scope.
    pub fn is_site(self) -> bool {
        self == Scope::Site
    }

    /// The value of the generated `project_key` column (`COALESCE(project_id, 0)`).
    pub(crate) fn key(self) -> i64 {
        self.project_id().unwrap_or(0)
    }

    /// The scope a `project_key` value stands for.
    pub(crate) fn from_key(key: i64) -> Self {
        if key == 0 {
            Scope::Site
        } else {
            Scope::Project(key)
        }
    }
}

impl From<&Project> for Scope {
    fn from(p: &Project) -> Self {
        Scope::Project(p.id)
    }
}
