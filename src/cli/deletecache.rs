//! `sodarcache deletecache [-p UUID] [-a APP]`: delete cached data, as upstream's
//! command does, plus `--app`.

use std::process::ExitCode;

use super::{Context, find_project};
use crate::db::models::{Event, NewEvent, Origin};

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
    drop(conn);
    let n = cache.delete_cache(opts.app.as_deref(), project.as_ref())?;
    if n == 0 {
        tracing::info!("No cached data found");
        return Ok(ExitCode::SUCCESS);
    }
    let items = if n == 1 { "item" } else { "items" };
    let of_app = opts
        .app
        .as_deref()
        .map(|a| format!(" of app \"{a}\""))
        .unwrap_or_default();
    let from = project.as_ref().map_or_else(
        || "all projects".to_owned(),
        |p| format!("project {}", p.log_title()),
    );
    let message = format!("Deleted {n} cached data {items}{of_app} from {from}");
    tracing::info!("{message}");
    Event::record(
        &mut *ctx.conn()?,
        &NewEvent {
            project_id: project.as_ref().map(|p| p.id),
            user_id: None,
            event_name: "cache_delete",
            origin: Origin::Cli,
            description: message,
            ok: true,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
