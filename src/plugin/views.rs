//! Read-only, typed views of what plugin code reads: projects, users, members and
//! cache items. Plain Rust types (no database rows), built by the crate only.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::db::models::{CacheItem, Project, ProjectType, PublicAccess, Role, User};

/// A project (or category), as a plugin sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectView {
    pub(crate) id: i64,
    /// Public identifier.
    pub uuid: uuid::Uuid,
    /// Title, unique within the parent category.
    pub title: String,
    /// `Parent / Child` path.
    pub full_title: String,
    /// Free text.
    pub description: String,
    /// Category or project.
    pub project_type: ProjectType,
    /// Public access, if any (projects only).
    pub public_access: Option<PublicAccess>,
    /// Archived projects are read-only in SODAR; their cache still works.
    pub archived: bool,
}

impl ProjectView {
    /// Whether this is a category.
    pub fn is_category(&self) -> bool {
        self.project_type == ProjectType::Category
    }

    /// Upstream's log format: `"Title" (uuid)`.
    pub fn log_title(&self) -> String {
        format!("\"{}\" ({})", self.title, self.uuid)
    }
}

impl From<&Project> for ProjectView {
    fn from(p: &Project) -> Self {
        ProjectView {
            id: p.id,
            uuid: p.uuid.0,
            title: p.title.clone(),
            full_title: p.full_title.clone(),
            description: p.description.clone(),
            project_type: p.project_type,
            public_access: p.public_access,
            archived: p.archive,
        }
    }
}

/// A user, as a plugin sees it (no password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    pub(crate) id: i64,
    /// Public identifier.
    pub uuid: uuid::Uuid,
    /// Login name.
    pub username: String,
    /// Superusers may do everything.
    pub is_superuser: bool,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id,
            uuid: u.uuid.0,
            username: u.username.clone(),
            is_superuser: u.is_superuser,
        }
    }
}

/// A user's own role in a project (not inherited from categories).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user: UserView,
    /// The role.
    pub role: Role,
}

/// A cache item with its data.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemView {
    /// Public identifier of the item.
    pub uuid: uuid::Uuid,
    /// The project's UUID; none for a site-wide item.
    pub project: Option<uuid::Uuid>,
    /// App (or sub-app) name.
    pub app_name: String,
    /// Item name.
    pub name: String,
    /// Last write.
    pub date_modified: DateTime<Utc>,
    /// Size of the JSON text in bytes.
    pub size_bytes: i64,
    pub(crate) data: String,
}

impl ItemView {
    pub(crate) fn new(item: CacheItem, project: Option<uuid::Uuid>) -> Self {
        ItemView {
            uuid: item.uuid.0,
            project,
            app_name: item.app_name,
            name: item.name,
            date_modified: item.date_modified.and_utc(),
            size_bytes: item.size_bytes,
            data: item.data.into_string(),
        }
    }

    /// The stored JSON text, as written.
    pub fn json(&self) -> &str {
        &self.data
    }

    /// The data deserialized into `T` (a `serde_json::Value`, or a type of yours).
    pub fn data<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(&self.data)
    }
}

/// Which items to read across projects: one app's items whose names start with a
/// prefix (what upstream plugins use `get_model().objects.filter(...)` for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFilter {
    /// The app (or sub-app).
    pub app_name: String,
    /// Name prefix, e.g. `irods/stats/project/`; empty: every item of the app.
    pub prefix: String,
    /// Items to skip (for the next page, use [`Page::next`]).
    pub offset: i64,
    /// Items per page, 1 to [`ItemFilter::MAX_LIMIT`].
    pub limit: i64,
}

impl ItemFilter {
    /// The largest page.
    pub const MAX_LIMIT: i64 = 1000;

    /// The first page (100 items) of `app_name`'s items named `prefix...`.
    pub fn new(app_name: impl Into<String>, prefix: impl Into<String>) -> Self {
        ItemFilter {
            app_name: app_name.into(),
            prefix: prefix.into(),
            offset: 0,
            limit: 100,
        }
    }

    /// The same filter with `limit` items per page.
    pub fn limit(self, limit: i64) -> Self {
        ItemFilter { limit, ..self }
    }
}

/// One page of results, ordered by project then name (site-wide items first).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// This page.
    pub items: Vec<T>,
    /// Matches in all pages.
    pub total: i64,
    /// The filter for the next page; none on the last one.
    pub next: Option<ItemFilter>,
}
