//! `serve --demo`: a small demo site on an empty database.

use super::Context;
use crate::auth::password;
use crate::cache::jobs::{request_sync, run_job, worker_id};
use crate::db::models::{
    NewProject, Origin, Project, ProjectType, PublicAccess, Role, RoleAssignment, SyncJob, User,
};

/// The demo users, their roles in the first project, and whether superuser.
const USERS: [(&str, Option<Role>, bool); 4] = [
    ("admin", None, true),
    ("alice", Some(Role::Owner), false),
    ("bob", Some(Role::Contributor), false),
    ("carol", Some(Role::Guest), false),
];

/// Creates users, a category, two projects and a synced cache, unless any user exists.
pub fn create_if_empty(ctx: &Context, bind: &str) -> anyhow::Result<()> {
    let mut conn = ctx.conn()?;
    if User::any(&mut conn)? {
        tracing::info!("Database is not empty: --demo leaves it as it is");
        return Ok(());
    }
    let category = Project::create(
        &mut conn,
        &NewProject {
            title: "Demo Category",
            project_type: ProjectType::Category,
            parent: None,
            description: "Created by serve --demo",
            public_access: None,
        },
    )?;
    let genomics = Project::create(
        &mut conn,
        &NewProject {
            title: "Genomics Project",
            project_type: ProjectType::Project,
            parent: Some(&category),
            description: "Sequencing runs and sample sheets",
            public_access: None,
        },
    )?;
    let imaging = Project::create(
        &mut conn,
        &NewProject {
            title: "Imaging Project",
            project_type: ProjectType::Project,
            parent: Some(&category),
            description: "Microscopy data, readable by every user",
            public_access: Some(PublicAccess::Guest),
        },
    )?;
    let mut lines = Vec::new();
    for (name, role, superuser) in USERS {
        let pw = crate::auth::token::generate().secret[..16].to_owned();
        let user = User::create(&mut conn, name, &password::hash(&pw)?, superuser)?;
        if let Some(role) = role {
            RoleAssignment::set(&mut conn, &genomics, &user, role)?;
        }
        if name == "alice" {
            RoleAssignment::set(&mut conn, &imaging, &user, Role::Owner)?;
        }
        lines.push(format!(
            "  {name:<6} {pw}  ({})",
            role.map_or("superuser", |r| r.as_str())
        ));
    }
    if ctx.registry.cache().is_some() {
        let (job, _) = request_sync(&mut conn, None, None, Origin::Cli, None)?;
        if let Some(job) = SyncJob::claim(&mut conn, job.id, &worker_id())? {
            drop(conn);
            run_job(ctx.registry.runner(), &job, None)?;
        }
    }
    eprintln!(
        "\nDemo site created. Log in at http://{}/login with one of:\n{}\n",
        bind.replace("0.0.0.0", "127.0.0.1"),
        lines.join("\n")
    );
    Ok(())
}
