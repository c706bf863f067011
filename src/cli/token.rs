//! `sodarcache token create USERNAME [--expiry-hours N]`: prints the token alone on stdout.

use std::process::ExitCode;

use diesel::Connection;

use super::Context;
use super::output::print_result;
use crate::auth::token;
use crate::db::models::User;

/// Token commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an API token; it is shown once and only its digest is kept.
    Create {
        /// Username.
        username: String,
        /// Hours until the token expires, at least 1 (default: never).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        expiry_hours: Option<u32>,
    },
}

/// Runs a token command.
pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Create {
            username,
            expiry_hours,
        } => {
            let mut conn = ctx.conn()?;
            let user = User::find_by_username(&mut conn, &username)?
                .ok_or_else(|| anyhow::anyhow!("User not found: \"{username}\""))?;
            // Committed only once the token is printed: a token nobody saw is not kept.
            conn.transaction(|conn| -> anyhow::Result<()> {
                let secret = token::create(conn, &user, expiry_hours)?;
                print_result(&secret)
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
