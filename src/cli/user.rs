//! `sodarcache user add USERNAME [--superuser]`, `user set-password USERNAME` (both read
//! the password from the first line of stdin) and `user logout-everywhere USERNAME`.

use std::io::BufRead;
use std::process::ExitCode;

use diesel::Connection;

use super::Context;
use crate::auth::{password, session};
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
    /// Set a user's password from the first line of standard input; ends all of the
    /// user's login sessions.
    SetPassword {
        /// Login name.
        username: String,
    },
    /// End all of a user's login sessions, on every server instance.
    LogoutEverywhere {
        /// Login name.
        username: String,
    },
}

/// Runs a user command.
pub fn run(ctx: &Context, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Add {
            username,
            superuser,
        } => add(ctx, username.trim(), superuser),
        Command::SetPassword { username } => {
            let hash = password::hash(&password_from_stdin()?)?;
            let mut conn = ctx.conn()?;
            let user = find(&mut conn, &username)?;
            // Both or neither: a new password never leaves the old sessions open.
            let ended = conn.transaction(|conn| -> crate::Result<usize> {
                User::set_password_hash(conn, user.id, &hash)?;
                session::revoke_all(conn, &user)
            })?;
            tracing::info!(
                "Set the password of user \"{}\" and ended {ended} login sessions",
                user.username
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::LogoutEverywhere { username } => {
            let mut conn = ctx.conn()?;
            let user = find(&mut conn, &username)?;
            let ended = session::revoke_all(&mut conn, &user)?;
            tracing::info!("Ended {ended} login sessions of user \"{}\"", user.username);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn add(ctx: &Context, username: &str, superuser: bool) -> anyhow::Result<ExitCode> {
    crate::names::check("Usernames", username)?;
    if username.is_empty()
        || username.chars().count() > 150
        || username.contains(char::is_whitespace)
    {
        anyhow::bail!("Username must be 1 to 150 characters without spaces");
    }
    let hash = password::hash(&password_from_stdin()?)?;
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

/// The first line of standard input, without its line end; empty is an error.
fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']);
    if pw.is_empty() {
        anyhow::bail!("No password given: write it as the first line of standard input");
    }
    Ok(pw.to_owned())
}

/// The user of that name, with a one-line error otherwise.
pub fn find(conn: &mut crate::db::DbConn, username: &str) -> anyhow::Result<User> {
    User::find_by_username(conn, username)?
        .ok_or_else(|| anyhow::anyhow!("User not found: \"{username}\""))
}
