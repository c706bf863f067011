//! `sodarcache project add TITLE ...`: prints the new project's UUID alone on stdout.
//! `sodarcache project block UUID` / `unblock UUID`: block or restore access to a project
//! for everyone but superusers (REST API and admin pages answer 403 meanwhile).

use std::process::ExitCode;

use diesel::Connection;

use super::output::print_result;
use super::{Context, find_project};
use crate::db::models::{NewProject, Project, ProjectBlock, ProjectType, PublicAccess};

/// Project commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a project (or a category with --category).
    Add {
        /// Title.
        title: String,
        /// Create a category instead of a project.
        #[arg(long)]
        category: bool,
        /// Parent category UUID.
        #[arg(long, value_name = "UUID")]
        parent: Option<String>,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Public access for everyone: guest or viewer (projects only).
        #[arg(long, value_name = "guest|viewer")]
        public_access: Option<String>,
    },
    /// Block access to a project for everyone but superusers.
    Block {
        /// Project UUID.
        project: String,
    },
    /// Restore access to a blocked project.
    Unblock {
        /// Project UUID.
        project: String,
    },
}

/// Runs a project command.
pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Add {
            title,
            category,
            parent,
            description,
            public_access,
        } => {
            let public_access = match public_access.as_deref() {
                None => None,
                Some(s) => Some(PublicAccess::parse(s).ok_or_else(|| {
                    anyhow::anyhow!("Unknown public access \"{s}\" (allowed: guest, viewer)")
                })?),
            };
            let mut conn = ctx.conn()?;
            let parent = match &parent {
                Some(p) => Some(find_project(&mut conn, p)?),
                None => None,
            };
            // Committed only once the UUID is printed: a project the caller cannot
            // name is not kept.
            let project = conn.transaction(|conn| -> anyhow::Result<Project> {
                let project = Project::create(
                    conn,
                    &NewProject {
                        title: &title,
                        project_type: if category {
                            ProjectType::Category
                        } else {
                            ProjectType::Project
                        },
                        parent: parent.as_ref(),
                        description: &description,
                        public_access,
                    },
                )?;
                print_result(&project.uuid.to_string())?;
                Ok(project)
            })?;
            tracing::info!(
                "Created {} {}",
                project.project_type.as_str().to_lowercase(),
                project.log_title()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Block { project } => {
            let mut conn = ctx.conn()?;
            let project = find_project(&mut conn, &project)?;
            if project.is_category() {
                anyhow::bail!("Only projects can be blocked, not categories");
            }
            if ProjectBlock::block(&mut conn, &project)? {
                tracing::info!("Blocked access to project {}", project.log_title());
            } else {
                tracing::info!(
                    "Access to project {} was already blocked",
                    project.log_title()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Unblock { project } => {
            let mut conn = ctx.conn()?;
            let project = find_project(&mut conn, &project)?;
            if ProjectBlock::unblock(&mut conn, &project)? {
                tracing::info!("Unblocked access to project {}", project.log_title());
            } else {
                tracing::info!("Access to project {} was not blocked", project.log_title());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
