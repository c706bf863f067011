//! Who is asking and what they may do: passwords, API tokens, and the permission rules.

pub mod address;
pub mod item_access;
pub mod password;
pub mod rules;
pub mod session;
pub mod throttle;
pub mod token;
pub mod token_grants;
pub mod visibility;

pub use rules::{Access, Permissions, effective_role};

use std::time::Duration;

use crate::db::{DbPool, blocking};
use crate::settings::Settings;

/// Deletes ended sessions and expired login failure counters now, then every minute
/// (or as often as the shortest of the idle timeout and the cool-off, when shorter),
/// for as long as the server runs: the tables stay small without a successful login.
pub async fn prune_forever(pool: DbPool, settings: Settings) {
    let throttle = throttle::Policy::from_settings(&settings);
    let sessions = session::SessionPolicy::from_settings(&settings);
    let every = [Duration::from_secs(60), throttle.cooloff, sessions.idle]
        .into_iter()
        .min()
        .unwrap_or(Duration::from_secs(60))
        .max(Duration::from_secs(1));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let pruned = blocking::with_conn(&pool, settings.db_timeout, move |conn| {
            Ok((
                throttle::prune(conn, &throttle)?,
                session::prune(conn, &sessions)?,
            ))
        })
        .await;
        match pruned {
            Ok((0, 0)) => {}
            Ok((failures, ended)) => {
                tracing::debug!(
                    "Pruned {failures} login failure counters and {ended} ended sessions"
                )
            }
            Err(e) => tracing::warn!("Could not prune login failures and sessions: {e}"),
        }
    }
}
