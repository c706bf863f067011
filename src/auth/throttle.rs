//! Every password check goes through here: login throttling (django-axes' rules) and
//! a bound on concurrent password checks. The admin login form uses it, and so must
//! any other way to present a password (HTTP Basic authentication).
//!
//! Throttling, counted in the database so it holds across server instances:
//! - An attempt is counted **before** its password is checked, in one atomic upsert per
//!   key, and the count decides: attempt `limit + 1` within the cool-off is refused
//!   with [`Verdict::LockedOut`] however the attempts arrive (all at once, from several
//!   instances). A correct password afterwards is refused too, as in django-axes.
//! - Two keys: the (address, username) pair, limit `SODARCACHE_LOGIN_FAILURE_LIMIT`
//!   (default 5, axes' `AXES_FAILURE_LIMIT`), and the address alone, limit
//!   `SODARCACHE_LOGIN_ADDRESS_FAILURE_LIMIT` (default 30), so random usernames from
//!   one address are throttled too. IPv6 addresses count by their /64 network (one
//!   host is usually given a whole /64).
//! - A lockout ends `SODARCACHE_LOGIN_COOLOFF_SECONDS` (default 300, axes'
//!   `AXES_COOLOFF_TIME`) after the last failure that counted; attempts while locked
//!   do not push it back. A successful login resets its pair (axes'
//!   `AXES_RESET_ON_SUCCESS`) and takes its attempt back from the address.
//! - Counters older than the cool-off are pruned on a schedule
//!   ([`super::prune_forever`]).
//!
//! Password checks (Argon2, slow and memory-hungry by design) run on blocking threads,
//! at most `SODARCACHE_PASSWORD_CHECKS` at once per process; a check that cannot start
//! within the database timeout is a 503 with `Retry-After` ([`Error::Busy`]), so logins
//! cannot starve the API of threads and cores.
//!
//! Usage (a handler with the peer's [`client address`](super::address)):
//!
//! ```ignore
//! match state.login.check(&state.pool, state.settings.db_timeout, ip, username, password).await? {
//!     Verdict::Accepted(user) => { /* authenticated */ }
//!     Verdict::Rejected => { /* 401 */ }
//!     Verdict::LockedOut { until } => { /* 429, Retry-After: until - now */ }
//! }
//! ```

use std::net::IpAddr;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::Connection;
use tokio::sync::Semaphore;

use super::password;
use crate::db::models::{LoginFailures, User};
use crate::db::{DbPool, blocking, now};
use crate::settings::Settings;
use crate::{Error, Result};

/// The outcome of a password check.
#[derive(Debug)]
pub enum Verdict {
    /// Right username and password of an active user.
    Accepted(User),
    /// Wrong username or password (counted as a failure).
    Rejected,
    /// Too many failures: nothing was checked. Try again at `until` (UTC).
    LockedOut {
        /// When the lockout ends.
        until: NaiveDateTime,
    },
}

/// The throttling rules, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Failures allowed per (address, username) within the cool-off.
    pub failure_limit: u32,
    /// Failures allowed per address within the cool-off, whatever the usernames.
    pub address_failure_limit: u32,
    /// How long failures count, and a lockout lasts after the last one.
    pub cooloff: Duration,
}

impl Policy {
    /// The rules the settings give.
    pub fn from_settings(settings: &Settings) -> Self {
        Policy {
            failure_limit: settings.login_failure_limit,
            address_failure_limit: settings.login_address_failure_limit,
            cooloff: settings.login_cooloff,
        }
    }

    fn cooloff(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.cooloff).unwrap_or(chrono::Duration::MAX)
    }
}

/// The process's password checks: the policy and the bound on concurrent checks.
#[derive(Debug)]
pub struct LoginGuard {
    policy: Policy,
    checks: Semaphore,
}

/// The key under which an address counts: IPv4 as it is (IPv4-mapped IPv6 included),
/// IPv6 by its /64 network.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

impl LoginGuard {
    /// A guard with `policy`, allowing `max_checks` (at least 1) password checks at once.
    pub fn new(policy: Policy, max_checks: usize) -> Self {
        LoginGuard {
            policy,
            checks: Semaphore::new(max_checks.max(1)),
        }
    }

    /// The guard the settings describe.
    pub fn from_settings(settings: &Settings) -> Self {
        Self::new(Policy::from_settings(settings), settings.password_checks)
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Takes one password check slot while the returned permit lives, or `None` when all
    /// are busy. For tests of the bound (and for code that checks a password itself).
    pub fn try_hold_check(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.checks.try_acquire().ok()
    }

    /// Counts an attempt by `username` from `address`, then (unless locked out) checks
    /// `password`. Database waits are bounded by `wait`, as every request's; so is the
    /// wait for a free password check (then [`Error::Busy`], attempt not counted).
    pub async fn check(
        &self,
        pool: &DbPool,
        wait: Duration,
        address: IpAddr,
        username: &str,
        password: String,
    ) -> Result<Verdict> {
        let key = address_key(address);
        let policy = self.policy;
        let (k, u) = (key.clone(), username.to_owned());
        let counted = blocking::with_conn(pool, wait, move |conn| {
            conn.transaction(|conn| count(conn, &policy, &k, &u))
        })
        .await?;
        let user = match counted {
            Counted::Locked(until) => return Ok(Verdict::LockedOut { until }),
            Counted::Free(user) => user,
        };
        let Ok(permit) = tokio::time::timeout(wait, self.checks.acquire()).await else {
            let (k, u) = (key, username.to_owned());
            let _ = blocking::with_conn(pool, wait, move |conn| {
                conn.transaction(|conn| uncount(conn, &k, &u))
            })
            .await;
            return Err(Error::Busy(
                "Too many logins at once, try again in a moment.".into(),
            ));
        };
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let ok = tokio::task::spawn_blocking(move || password::verify(&password, hash.as_deref()))
            .await
            .map_err(|e| Error::Internal(format!("password check failed: {e}")))?;
        drop(permit);
        match user {
            Some(user) if ok => {
                let (k, u) = (key, username.to_owned());
                blocking::with_conn(pool, wait, move |conn| {
                    conn.transaction(|conn| {
                        LoginFailures::reset(conn, &k, &u)?;
                        LoginFailures::uncount(conn, &k, "")?;
                        Ok(())
                    })
                })
                .await?;
                Ok(Verdict::Accepted(user))
            }
            _ => Ok(Verdict::Rejected),
        }
    }
}

/// What counting found.
enum Counted {
    /// Over a limit until then.
    Locked(NaiveDateTime),
    /// May be checked; the active user of that name, if any.
    Free(Option<User>),
}

fn count(
    conn: &mut crate::db::DbConn,
    policy: &Policy,
    key: &str,
    username: &str,
) -> Result<Counted> {
    let now = now();
    let window_start = now - policy.cooloff();
    let limits = [
        ("", policy.address_failure_limit),
        (username, policy.failure_limit),
    ];
    for (name, limit) in limits {
        let limit = i32::try_from(limit).unwrap_or(i32::MAX);
        let c = LoginFailures::count_attempt(conn, key, name, limit, window_start, now)?;
        if c.failures > limit {
            return Ok(Counted::Locked(c.last_at + policy.cooloff()));
        }
    }
    Ok(Counted::Free(
        User::find_by_username(conn, username)?.filter(|u| u.is_active),
    ))
}

fn uncount(conn: &mut crate::db::DbConn, key: &str, username: &str) -> Result<()> {
    LoginFailures::uncount(conn, key, username)?;
    LoginFailures::uncount(conn, key, "")?;
    Ok(())
}

/// Deletes failure counters older than the cool-off; how many.
pub fn prune(conn: &mut crate::db::DbConn, policy: &Policy) -> Result<usize> {
    Ok(LoginFailures::prune(conn, now() - policy.cooloff())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_by_its_64_network_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), "2001:db8:1:2::/64");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        assert_eq!(address_key("::ffff:10.0.0.1".parse().unwrap()), "10.0.0.1");
        assert_eq!(address_key("10.0.0.1".parse().unwrap()), "10.0.0.1");
    }
}
