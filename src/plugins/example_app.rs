//! `example_project_app`: caches a real summary of each project, so a fresh site has
//! something to show and the sync buttons do something visible.

use serde_json::json;

use super::ProjectAppPlugin;
use crate::cache::SyncContext;
use crate::db::models::{Project, RoleAssignment, User};

/// The example plugin shipped in the binary.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExampleProjectApp;

/// Its app name.
pub const EXAMPLE_APP: &str = "example_project_app";
/// The item it writes.
pub const SUMMARY_ITEM: &str = "project_summary";

impl ProjectAppPlugin for ExampleProjectApp {
    fn name(&self) -> &'static str {
        EXAMPLE_APP
    }

    fn title(&self) -> &'static str {
        "Example project app"
    }

    fn update_cache(
        &self,
        ctx: &SyncContext,
        name: Option<&str>,
        project: Option<&Project>,
        user: Option<&User>,
    ) -> anyhow::Result<()> {
        if name.is_some_and(|n| n != SUMMARY_ITEM) {
            return Ok(());
        }
        // Nothing site-wide, and categories get no summary.
        let Some(project) = project.filter(|p| !p.is_category()) else {
            return Ok(());
        };
        let members = {
            let mut conn = ctx.conn()?;
            RoleAssignment::members(&mut conn, project.id)?
        };
        let mut by_role = serde_json::Map::new();
        for (username, role) in &members {
            by_role
                .entry(role.as_str())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("inserted as an array")
                .push(json!(username));
        }
        let data = json!({
            "title": project.title,
            "full_title": project.full_title,
            "description": project.description,
            "members": by_role,
            "member_count": members.len(),
            "archived": project.archive,
            "public_access": project.public_access.map(|a| a.as_str()),
        });
        ctx.set_cache_item(EXAMPLE_APP, SUMMARY_ITEM, &data, Some(project), user)?;
        Ok(())
    }
}
