//! `sodarcache backup PATH`: a consistent copy of a SQLite database, taken while servers
//! keep using it (SQLite's `VACUUM INTO` reads one snapshot). PostgreSQL has `pg_dump`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::db::{self, DatabaseUrl, Manager};
use crate::settings::Settings;

/// Options.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// The new file to write; it must not exist yet.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

/// Writes the copy, or says why not. The database is neither migrated nor changed.
pub fn run(database_url: Option<String>, opts: Opts) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_env(database_url).map_err(anyhow::Error::msg)?;
    let url = DatabaseUrl::parse(&settings.database_url)?;
    if url.is_postgres() {
        anyhow::bail!(
            "backup copies SQLite databases only; for PostgreSQL use pg_dump \
             (e.g. pg_dump --format=custom --file=backup.dump DBNAME)"
        );
    }
    let path = &opts.path;
    if path.exists() {
        anyhow::bail!("{} already exists: name a new file", path.display());
    }
    let mut conn = Manager::new(url, &db::PoolOptions::default()).connect_once()?;
    db::vacuum_into(&mut conn, path)?;
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    tracing::info!(
        "Backed up the database to {} ({size} bytes)",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
