//! Projects and categories, with upstream's validation rules.

use std::fmt;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{project_ancestors, projects};
use crate::db::types::text_enum;
use crate::db::{DbConn, DbUuid, now};

text_enum! {
    /// `CATEGORY` or `PROJECT`.
    pub enum ProjectType {
        /// A container of projects and categories.
        Category = "CATEGORY",
        /// A project, always inside a category or at the top.
        Project = "PROJECT",
    }
}

text_enum! {
    /// Public access level of a project.
    pub enum PublicAccess {
        /// Everyone is a guest (may read the cache).
        Guest = "guest",
        /// Everyone is a viewer (no cache read).
        Viewer = "viewer",
    }
}

/// A project or a category.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable)]
#[diesel(table_name = projects)]
pub struct Project {
    /// Row id.
    pub id: i64,
    /// Public identifier.
    pub uuid: DbUuid,
    /// Title, unique within the parent.
    pub title: String,
    /// Category or project.
    pub project_type: ProjectType,
    /// Parent category, if any.
    pub parent_id: Option<i64>,
    /// Free text.
    pub description: String,
    /// Public access, if any (projects only).
    pub public_access: Option<PublicAccess>,
    /// Archived projects are read-only in SODAR, but caches still work.
    pub archive: bool,
    /// `Parent / Child` path.
    pub full_title: String,
    /// When it was created (UTC).
    pub date_created: NaiveDateTime,
}

/// What `project add` asks for.
#[derive(Debug, Clone)]
pub struct NewProject<'a> {
    /// Title.
    pub title: &'a str,
    /// Category or project.
    pub project_type: ProjectType,
    /// Parent category.
    pub parent: Option<&'a Project>,
    /// Description.
    pub description: &'a str,
    /// Public access (projects only).
    pub public_access: Option<PublicAccess>,
}

/// A rule a new project breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectRuleError {
    /// Empty or over 255 characters.
    #[error("Title must be between 1 and 255 characters")]
    TitleLength,
    /// Contains the path separator.
    #[error("Title may not contain \" / \"")]
    TitleSeparator,
    /// Same title as the parent.
    #[error("Project and parent titles can not be equal")]
    TitleEqualsParent,
    /// A parent that is a project.
    #[error("Subprojects are only allowed within categories")]
    ParentNotCategory,
    /// A category with public access.
    #[error("Public guest access is not allowed for categories")]
    CategoryPublic,
    /// Title taken within the parent.
    #[error("Title \"{0}\" is already in use in this category")]
    TitleTaken(String),
}

impl Project {
    /// Whether this is a category.
    pub fn is_category(&self) -> bool {
        self.project_type == ProjectType::Category
    }

    /// Upstream's log format: `"Title" (uuid)`.
    pub fn log_title(&self) -> String {
        format!("\"{}\" ({})", self.title, self.uuid)
    }
}

impl fmt::Display for Project {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.log_title())
    }
}

impl NewProject<'_> {
    /// Checks upstream's rules that need no database.
    pub fn validate(&self) -> Result<(), ProjectRuleError> {
        let len = self.title.chars().count();
        if len == 0 || len > 255 || self.title.trim().is_empty() {
            return Err(ProjectRuleError::TitleLength);
        }
        if self.title.contains(" / ") {
            return Err(ProjectRuleError::TitleSeparator);
        }
        if let Some(parent) = self.parent {
            if !parent.is_category() {
                return Err(ProjectRuleError::ParentNotCategory);
            }
            if parent.title == self.title {
                return Err(ProjectRuleError::TitleEqualsParent);
            }
        }
        if self.project_type == ProjectType::Category && self.public_access.is_some() {
            return Err(ProjectRuleError::CategoryPublic);
        }
        Ok(())
    }
}

impl Project {
    /// Validates and inserts a new project or category.
    pub fn create(conn: &mut DbConn, new: &NewProject<'_>) -> Result<Project, crate::Error> {
        new.validate()
            .map_err(|e| crate::Error::BadRequest(e.to_string()))?;
        let full_title = match new.parent {
            Some(p) => format!("{} / {}", p.full_title, new.title),
            None => new.title.to_owned(),
        };
        let q = diesel::insert_into(projects::table).values((
            projects::uuid.eq(DbUuid(uuid::Uuid::new_v4())),
            projects::title.eq(new.title),
            projects::project_type.eq(new.project_type),
            projects::parent_id.eq(new.parent.map(|p| p.id)),
            projects::description.eq(new.description),
            projects::public_access.eq(new.public_access),
            projects::archive.eq(false),
            projects::title_fold.eq(crate::db::search::fold(&full_title)),
            projects::title_sort.eq(crate::db::search::natural_key(&full_title)),
            projects::full_title.eq(&full_title),
            projects::date_created.eq(now()),
        ));
        let parent_id = new.parent.map(|p| p.id);
        conn.transaction(|conn| {
            let project = crate::on_backend!(&mut *conn, |c| q
                .returning(Project::as_returning())
                .get_result(c))?;
            record_ancestors(conn, project.id, parent_id)?;
            Ok(project)
        })
        .map_err(|e: diesel::result::Error| {
            if crate::db::is_unique_violation(&e) {
                crate::Error::Conflict(
                    ProjectRuleError::TitleTaken(new.title.to_owned()).to_string(),
                )
            } else {
                e.into()
            }
        })
    }

    /// Sets the archive flag (projects only; categories cannot be archived).
    pub fn set_archive(
        conn: &mut DbConn,
        project: &Project,
        archive: bool,
    ) -> Result<(), crate::Error> {
        if project.is_category() && archive {
            return Err(crate::Error::BadRequest(
                "Categories can not be archived".into(),
            ));
        }
        diesel::update(projects::table.find(project.id))
            .set(projects::archive.eq(archive))
            .execute(conn)?;
        Ok(())
    }

    /// The project with this UUID, if any.
    pub fn find_by_uuid(conn: &mut DbConn, uuid: uuid::Uuid) -> QueryResult<Option<Project>> {
        projects::table
            .filter(projects::uuid.eq(DbUuid(uuid)))
            .select(Project::as_select())
            .first(conn)
            .optional()
    }

    /// The projects with these ids.
    pub fn find_many(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<Project>> {
        projects::table
            .filter(projects::id.eq_any(ids))
            .select(Project::as_select())
            .load(conn)
    }

    /// The project with this id, if any.
    pub fn find_by_id(conn: &mut DbConn, id: i64) -> QueryResult<Option<Project>> {
        projects::table
            .find(id)
            .select(Project::as_select())
            .first(conn)
            .optional()
    }

    /// Every project and category, by full title.
    pub fn list(conn: &mut DbConn) -> QueryResult<Vec<Project>> {
        projects::table
            .order(projects::full_title)
            .select(Project::as_select())
            .load(conn)
    }

    /// Every project of type PROJECT, by full title.
    pub fn list_projects(conn: &mut DbConn) -> QueryResult<Vec<Project>> {
        projects::table
            .filter(projects::project_type.eq(ProjectType::Project))
            .order(projects::full_title)
            .select(Project::as_select())
            .load(conn)
    }

    /// The project followed by its parent categories, nearest first.
    pub fn with_ancestors(conn: &mut DbConn, project: &Project) -> QueryResult<Vec<Project>> {
        let mut chain = vec![project.clone()];
        let mut next = project.parent_id;
        // Parents are validated on insert, so the chain ends; the bound guards bad data.
        while let Some(id) = next {
            if chain.len() > 64 {
                break;
            }
            match Project::find_by_id(conn, id)? {
                Some(p) => {
                    next = p.parent_id;
                    chain.push(p);
                }
                None => break,
            }
        }
        Ok(chain)
    }
}

/// Writes the closure rows of a new project: itself at depth 0, then its parent's
/// ancestors one level deeper. Runs in the transaction that created the project.
fn record_ancestors(conn: &mut DbConn, id: i64, parent_id: Option<i64>) -> QueryResult<()> {
    diesel::insert_into(project_ancestors::table)
        .values((
            project_ancestors::project_id.eq(id),
            project_ancestors::ancestor_id.eq(id),
            project_ancestors::depth.eq(0),
        ))
        .execute(conn)?;
    if let Some(parent) = parent_id {
        let above = project_ancestors::table
            .filter(project_ancestors::project_id.eq(parent))
            .select((
                id.into_sql::<diesel::sql_types::BigInt>(),
                project_ancestors::ancestor_id,
                project_ancestors::depth + 1,
            ));
        diesel::insert_into(project_ancestors::table)
            .values(above)
            .into_columns((
                project_ancestors::project_id,
                project_ancestors::ancestor_id,
                project_ancestors::depth,
            ))
            .execute(conn)?;
    }
    Ok(())
}
