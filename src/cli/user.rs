//! `sodarcache user add USERNAME [--superuser]`: password from the first line of stdin.

use std::io::BufRead;
use std::process::ExitCode;

use super::Context;
use crate::auth::password;
use crate::db::models::User;

/// User commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a user; the password is the first line of standard input.
    Add {
        /// Login name.
        username: String,
        /// Allow everything.
        #[arg(long)]
        superuser: bool,
    },
}

/// Runs a user command.
pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Add {
            username,
            superuser,
        } => {
            let username = username.trim();
            crate::names::check("Usernames", username)?;
            if username.is_empty()
                || username.chars().count() > 150
                || username.contains(char::is_whitespace)
            {
                anyhow::bail!("Username must be 1 to 150 characters without spaces");
            }
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            let pw = line.trim_end_matches(['\r', '\n']);
            if pw.is_empty() {
                anyhow::bail!("No password given: write it as the first line of standard input");
            }
            let hash = password::hash(pw)?;
            let mut conn = ctx.conn()?;
            if User::find_by_username(&mut conn, username)?.is_some() {
                anyhow::bail!("User \"{username}\" already exists");
            }
            let user = User::create(&mut conn, username, &hash, superuser).map_err(|e| {
                if crate::db::is_unique_violation(&e) {
                    anyhow::anyhow!("User \"{username}\" already exists")
                } else {
                    e.into()
                }
            })?;
            let kind = if superuser { "superuser" } else { "user" };
            tracing::info!("Created {kind} \"{}\" ({})", user.username, user.uuid);
            Ok(ExitCode::SUCCESS)
        }
    }
}
