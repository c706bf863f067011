//! `sodarcache token create USERNAME [--expiry-hours N]` (prints the token alone on
//! stdout), `token list USERNAME` (one token a line: prefix, created, expiry) and
//! `token revoke PREFIX`.

use std::process::ExitCode;

use diesel::Connection;

use super::Context;
use super::output::print_result;
use crate::auth::token;
use crate::db::models::ApiToken;

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
    /// List a user's tokens: prefix, created and expiry (UTC), one a line.
    List {
        /// Username.
        username: String,
    },
    /// Revoke the tokens whose first 8 characters are PREFIX (as `token list` shows).
    Revoke {
        /// The token's prefix (or the whole token).
        prefix: String,
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
            let user = super::user::find(&mut conn, &username)?;
            // Committed only once the token is printed: a token nobody saw is not kept.
            conn.transaction(|conn| -> anyhow::Result<()> {
                let secret = token::create(conn, &user, expiry_hours)?;
                print_result(&secret)
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::List { username } => {
            let mut conn = ctx.conn()?;
            let user = super::user::find(&mut conn, &username)?;
            let now = crate::db::now();
            let lines: Vec<String> = ApiToken::list_for_user(&mut conn, user.id)?
                .iter()
                .map(|t| {
                    let expiry = match t.expiry {
                        None => "never".to_owned(),
                        Some(e) if t.expired_at(now) => format!("{} (expired)", rfc3339(e)),
                        Some(e) => rfc3339(e),
                    };
                    format!("{}\t{}\t{expiry}", t.prefix, rfc3339(t.created))
                })
                .collect();
            if !lines.is_empty() {
                print_result(&lines.join("\n"))?;
            }
            tracing::info!("User \"{}\" has {} tokens", user.username, lines.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Revoke { prefix } => {
            let prefix = prefix.trim();
            let prefix = prefix.get(..token::PREFIX_LEN).unwrap_or(prefix);
            if prefix.len() != token::PREFIX_LEN || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
                anyhow::bail!(
                    "Not a token prefix: \"{prefix}\" (the first {} characters, as token list shows)",
                    token::PREFIX_LEN
                );
            }
            let mut conn = ctx.conn()?;
            match ApiToken::delete_by_prefix(&mut conn, prefix)? {
                0 => anyhow::bail!("No token with prefix \"{prefix}\""),
                n => tracing::info!("Revoked {n} token(s) with prefix \"{prefix}\""),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn rfc3339(t: chrono::NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
