//! The command line: `sodarcache [--database-url URL] <command>`.
//!
//! One file per command, each an `Opts` and a `run`. Messages are log lines on
//! standard error (upstream's wording where upstream has one); a command's result
//! that scripts read (a UUID, a token) is the only thing on standard output.

mod backup;
mod deletecache;
mod demo;
mod migrate;
pub mod output;
mod project;
mod role;
mod serve;
mod synccache;
mod token;
mod user;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::db::{self, DbPool, PoolOptions};
use crate::plugins::{PluginRegistry, RegistryBuilder};
use crate::settings::Settings;

/// sodarcache: per-project JSON cache with plugins, a web admin and a REST API.
#[derive(Debug, Parser)]
#[command(name = "sodarcache", version, about, long_about = None)]
pub struct Cli {
    /// Database: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://sodarcache.sqlite3]
    #[arg(long, global = true, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (admin pages, REST API, sync worker).
    Serve(serve::Opts),
    /// Apply pending database migrations.
    Migrate,
    /// Write a consistent copy of a SQLite database (while servers run) to a new file.
    Backup(backup::Opts),
    /// Update the cache by running every app plugin.
    Synccache(synccache::Opts),
    /// Delete cached data.
    Deletecache(deletecache::Opts),
    /// Manage users.
    #[command(subcommand)]
    User(user::Command),
    /// Manage projects and categories.
    #[command(subcommand)]
    Project(project::Command),
    /// Manage roles.
    #[command(subcommand)]
    Role(role::Command),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(token::Command),
}

/// What every command works with.
pub struct Context {
    /// Settings from the environment.
    pub settings: Settings,
    /// The database.
    pub pool: DbPool,
    /// Registered plugins.
    pub registry: PluginRegistry,
}

impl Context {
    /// Reads settings, opens (and migrates) the database and builds the registry, for
    /// a command (no statement timeout: a large `deletecache` may take long).
    pub fn open(database_url: Option<String>, plugins: RegistryBuilder) -> anyhow::Result<Self> {
        Self::open_with(database_url, plugins, false)
    }

    /// [`open`](Self::open); `server` bounds every PostgreSQL statement by the
    /// database timeout, so a request answers in time.
    pub fn open_with(
        database_url: Option<String>,
        plugins: RegistryBuilder,
        server: bool,
    ) -> anyhow::Result<Self> {
        let settings = Settings::from_env(database_url).map_err(anyhow::Error::msg)?;
        let pool = db::open(
            &settings.database_url,
            &PoolOptions {
                max_size: settings.pool_size,
                connection_timeout: settings.db_timeout,
                statement_timeout: server.then_some(settings.db_timeout),
                defer_checkpoints: !server,
            },
        )?;
        let mut conn = pool.get()?;
        crate::db::models::ItemVersion::set_keep(&mut conn, settings.history_versions)?;
        drop(conn);
        let registry = plugins.build(pool.clone(), &settings);
        Ok(Context {
            settings,
            pool,
            registry,
        })
    }

    /// A pooled connection.
    pub fn conn(&self) -> anyhow::Result<db::PooledConn> {
        Ok(self.pool.get()?)
    }
}

/// How log lines look: `SODARCACHE_LOG_FORMAT`, `text` (the default) or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, with the fields of the spans it happened in (a
    /// request's `request_id` among them).
    Json,
}

impl LogFormat {
    /// Reads `SODARCACHE_LOG_FORMAT`; anything but `text` or `json` is an error.
    pub fn from_env() -> Result<Self, String> {
        const KEY: &str = "SODARCACHE_LOG_FORMAT";
        match std::env::var(KEY).unwrap_or_default().trim() {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("{KEY}: \"{other}\" is not text or json")),
        }
    }
}

/// Sets up logging on standard error: `info` unless `RUST_LOG` says otherwise.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .fmt_fields(escaping_fields())
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        // JSON escapes control characters itself. Every span from the root down: the request span (request id, method, route)
        // stays on the line even when an inner span is the current one.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .try_init(),
    };
}

/// How log lines render their fields: as the default formatter does, with every
/// control character escaped ([`crate::names::escape_for_log`]), so a name with a
/// newline cannot forge a log line.
pub fn escaping_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        let text = crate::names::escape_for_log(&text);
        if field.name() == "message" {
            write!(w, "{text}")
        } else {
            write!(w, "{field}={text}")
        }
    })
    .delimited(" ")
}

/// Runs a parsed command line with these plugins. Errors are one log line and exit 1.
pub fn run(cli: Cli, plugins: RegistryBuilder) -> ExitCode {
    output::guard_standard_streams();
    let format = LogFormat::from_env();
    init_logging(format.clone().unwrap_or(LogFormat::Text));
    match format
        .map_err(anyhow::Error::msg)
        .and_then(|_| execute(cli, plugins))
    {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line without setting up logging; the error is the message
/// [`run`] logs. For embedding and tests.
pub fn execute(cli: Cli, plugins: RegistryBuilder) -> anyhow::Result<ExitCode> {
    let url = cli.database_url;
    match cli.command {
        Command::Serve(opts) => serve::run(url, plugins, opts),
        Command::Migrate => migrate::run(url),
        Command::Backup(opts) => backup::run(url, opts),
        Command::Synccache(opts) => {
            Context::open(url, plugins).and_then(|ctx| synccache::run(&ctx, opts))
        }
        Command::Deletecache(opts) => {
            Context::open(url, plugins).and_then(|ctx| deletecache::run(&ctx, opts))
        }
        Command::User(cmd) => Context::open(url, plugins).and_then(|ctx| user::run(&ctx, cmd)),
        Command::Project(cmd) => {
            Context::open(url, plugins).and_then(|ctx| project::run(&ctx, cmd))
        }
        Command::Role(cmd) => Context::open(url, plugins).and_then(|ctx| role::run(&ctx, cmd)),
        Command::Token(cmd) => Context::open(url, plugins).and_then(|ctx| token::run(&ctx, cmd)),
    }
}

/// Parses a UUID argument with upstream's message.
pub fn parse_uuid(s: &str) -> anyhow::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(s.trim()).map_err(|_| anyhow::anyhow!("Not a valid UUID: {s}"))
}

/// Finds a project by UUID argument, with upstream's messages.
pub fn find_project(conn: &mut db::DbConn, s: &str) -> anyhow::Result<crate::db::models::Project> {
    let uuid = parse_uuid(s)?;
    crate::db::models::Project::find_by_uuid(conn, uuid)?
        .ok_or_else(|| anyhow::anyhow!("Project not found with UUID={s}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
