//! `sodarcache role set PROJECT_UUID USERNAME ROLE`.

use std::process::ExitCode;

use super::{Context, find_project};
use crate::db::models::{Role, RoleAssignment, User};

/// Role commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Give a user a role in a project or category (replacing their role there).
    Set {
        /// Project or category UUID.
        project: String,
        /// Username.
        username: String,
        /// owner, delegate, contributor, guest, viewer or finder.
        role: String,
    },
}

/// Runs a role command.
pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Set {
            project,
            username,
            role,
        } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let mut conn = ctx.conn()?;
            let project = find_project(&mut conn, &project)?;
            let user = User::find_by_username(&mut conn, &username)?
                .ok_or_else(|| anyhow::anyhow!("User not found: \"{username}\""))?;
            RoleAssignment::set(&mut conn, &project, &user, role)?;
            tracing::info!(
                "Set role \"{role}\" for user \"{username}\" in {}",
                project.log_title()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
