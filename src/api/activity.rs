//! Activity events for REST writes, like the web admin's.

use crate::db::models::{NewEvent, Origin, Project, User};

/// The event for `user` doing `event_name` to an item of `project`, to record with
/// the write itself.
pub fn event<'a>(
    event_name: &'a str,
    project: &Project,
    user: Option<&User>,
    description: String,
) -> NewEvent<'a> {
    NewEvent {
        project_id: Some(project.id),
        user_id: user.map(|u| u.id),
        event_name,
        origin: Origin::Api,
        description,
        ok: true,
    }
}
