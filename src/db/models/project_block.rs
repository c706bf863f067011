//! Project access blocks (`sodarcache project block UUID` / `unblock`): while a
//! project has a row, every REST endpoint and admin page of it answers non-superusers
//! 403, as upstream's `project_access_block` setting does.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::Project;
use crate::db::schema::project_access_blocks;
use crate::db::{DbConn, now};

/// One blocked project.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = project_access_blocks)]
pub struct ProjectBlock {
    /// The project.
    pub project_id: i64,
    /// Since when.
    pub blocked_at: NaiveDateTime,
}

impl ProjectBlock {
    /// What a blocked project answers non-superusers (403), in upstream's words.
    pub const MESSAGE: &'static str =
        "Access to project temporarily blocked by an administrator, please try again later";

    /// Whether access to `project` is blocked.
    pub fn is_blocked(conn: &mut DbConn, project: &Project) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            project_access_blocks::table.filter(project_access_blocks::project_id.eq(project.id)),
        ))
        .get_result(conn)
    }

    /// Blocks access to `project`; `false` when it already was.
    pub fn block(conn: &mut DbConn, project: &Project) -> QueryResult<bool> {
        let row = ProjectBlock {
            project_id: project.id,
            blocked_at: now(),
        };
        let inserted = crate::on_backend!(conn, |c| {
            diesel::insert_into(project_access_blocks::table)
                .values(&row)
                .on_conflict_do_nothing()
                .execute(c)
        })?;
        Ok(inserted == 1)
    }

    /// Unblocks access to `project`; `false` when it was not blocked.
    pub fn unblock(conn: &mut DbConn, project: &Project) -> QueryResult<bool> {
        let deleted = diesel::delete(
            project_access_blocks::table.filter(project_access_blocks::project_id.eq(project.id)),
        )
        .execute(conn)?;
        Ok(deleted == 1)
    }
}
