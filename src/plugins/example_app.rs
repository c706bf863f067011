//! `example_project_app`: caches a real summary of each project, so a fresh site has
//! something to show and the sync buttons do something visible.

use serde_json::json;

use crate::plugin::prelude::*;

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

    fn sync_project(&self, ctx: &SyncContext, project: &ProjectView) -> SyncResult {
        if !ctx.wants(SUMMARY_ITEM) {
            return Ok(());
        }
        let members = ctx.members(project)?;
        let mut by_role = serde_json::Map::new();
        for member in &members {
            by_role
                .entry(member.role.as_str())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("inserted as an array")
                .push(json!(member.user.username));
        }
        let data = json!({
            "title": project.title,
            "full_title": project.full_title,
            "description": project.description,
            "members": by_role,
            "member_count": members.len(),
            "archived": project.archived,
            "public_access": project.public_access.map(|a| a.as_str()),
        });
        ctx.set(SUMMARY_ITEM, &data)?;
        Ok(())
    }
}
