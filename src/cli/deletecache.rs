//! `sodarcache deletecache [-p UUID] [-a APP]`: delete cached data, as upstream's
//! command does, plus `--app`.

use std::process::ExitCode;

use super::{Context, find_project};
use crate::cache::admin::{delete_scope, deleted_description};
use crate::db::models::Origin;

/// Options.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Only the items of the project with this UUID.
    #[arg(short, long, value_name = "UUID")]
    pub project: Option<String>,
    /// Only the items of this app.
    #[arg(short, long, value_name = "APP_NAME")]
    pub app: Option<String>,
}

/// Deletes and reports how many items went.
pub fn run(ctx: &Context, opts: Opts) -> anyhow::Result<ExitCode> {
    let Some(cache) = ctx.registry.cache() else {
        anyhow::bail!("SodarCache backend not enabled in settings, cancelled");
    };
    let mut conn = ctx.conn()?;
    let project = match &opts.project {
        Some(p) => Some(find_project(&mut conn, p)?),
        None => None,
    };
    let (app, project) = (opts.app.as_deref(), project.as_ref());
    let n = delete_scope(&mut conn, &cache, None, project, app, Origin::Cli)?;
    if n == 0 {
        tracing::info!("No cached data found");
    } else {
        let sub_apps = app.map_or(&[][..], |a| cache.sub_apps_of(a));
        tracing::info!("{}", deleted_description(n, app, sub_apps, project));
    }
    Ok(ExitCode::SUCCESS)
}
