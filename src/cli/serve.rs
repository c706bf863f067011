//! `sodarcache serve [--bind ADDR:PORT] [--demo]`.

use std::process::ExitCode;

use super::Context;
use crate::plugins::RegistryBuilder;
use crate::startup::Application;

/// Options.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR:PORT")]
    pub bind: String,
    /// On an empty database, create a small demo site and print how to log in.
    #[arg(long)]
    pub demo: bool,
}

/// Opens the database, then serves until stopped.
pub fn run(
    database_url: Option<String>,
    plugins: RegistryBuilder,
    opts: Opts,
) -> anyhow::Result<ExitCode> {
    limit_malloc_arenas();
    let ctx = Context::open_with(database_url, plugins, true)?;
    if opts.demo {
        super::demo::create_if_empty(&ctx, &opts.bind)?;
    }
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(ctx.settings, ctx.pool, ctx.registry, &opts.bind)?;
        tracing::info!(
            "Listening on http://{}",
            display_addr(&opts.bind, app.port())
        );
        app.run_until_stopped().await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// glibc gives each busy thread its own malloc arena, and arenas keep freed memory: a
/// server handing out megabyte items from many threads grew to twice the resident size
/// it needs (`docs/benchmarks.md`). Two arenas measured both smaller and faster. The
/// limit is only read at process start, so `serve` re-executes itself once with
/// `MALLOC_ARENA_MAX=2` unless the variable is already set; if that fails it goes on.
///
/// The same re-execution fixes glibc's mmap threshold at 4 MiB (`MALLOC_MMAP_THRESHOLD_`,
/// unless set): by default glibc raises the threshold to the size of the largest block
/// freed (up to 32 MiB), after which large request bodies come from the arenas and stay
/// there; a fixed threshold gives every block of 4 MiB or more back when it is freed.
fn limit_malloc_arenas() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() || !cfg!(target_env = "gnu") {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", "2");
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        command.env("MALLOC_MMAP_THRESHOLD_", (4 * 1024 * 1024).to_string());
    }
    let error = command.exec();
    tracing::debug!("could not re-execute with MALLOC_ARENA_MAX=2: {error}");
}

fn display_addr(bind: &str, port: u16) -> String {
    let host = bind.rsplit_once(':').map_or(bind, |(h, _)| h);
    let host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
    format!("{host}:{port}")
}
