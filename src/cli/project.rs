//! `sodarcache project add TITLE ...`: prints the new project's UUID alone on stdout.

use std::process::ExitCode;

use super::{Context, find_project};
use crate::db::models::{NewProject, Project, ProjectType, PublicAccess};

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
            let project = Project::create(
                &mut conn,
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
            tracing::info!(
                "Created {} {}",
                project.project_type.as_str().to_lowercase(),
                project.log_title()
            );
            println!("{}", project.uuid);
            Ok(ExitCode::SUCCESS)
        }
    }
}
