//! `sodarcache migrate`: apply pending migrations and say how many.

use std::process::ExitCode;

use crate::db::{self, DatabaseUrl, Manager};
use crate::settings::Settings;

/// Applies pending migrations.
pub fn run(database_url: Option<String>) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_env(database_url).map_err(anyhow::Error::msg)?;
    let options = db::PoolOptions {
        connection_timeout: settings.db_timeout,
        ..db::PoolOptions::default()
    };
    let manager = Manager::new(DatabaseUrl::parse(&settings.database_url)?, &options);
    let mut conn = manager.connect_once()?;
    let n = db::migrate(&mut conn).map_err(|e| db::OpenError::Migrate(e.to_string()))?;
    if n == 0 {
        tracing::info!("No migrations to apply");
    } else {
        tracing::info!("Applied {n} migrations");
    }
    Ok(ExitCode::SUCCESS)
}
