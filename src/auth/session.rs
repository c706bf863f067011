//! Login sessions, server-side as Django's database backend keeps them, and the CSRF
//! token bound to each.
//!
//! The cookie (signed and encrypted, so any instance sharing the secret key reads it)
//! holds a random session key, the CSRF token and flash messages. The database holds
//! the key's SHA-256 digest with the user, so a session is revocable everywhere at once:
//! logging out deletes it, `user set-password` and `user logout-everywhere` delete all
//! of a user's. A session ends [`SessionPolicy::max_age`] after login (Django's
//! `SESSION_COOKIE_AGE`, two weeks) or after [`SessionPolicy::idle`] without a request
//! (one day); the cookie's own lifetime is the same absolute one. Checking a session is
//! one lookup on a unique index (joined with its user); `last_seen` is written at
//! most every [`SessionPolicy::touch_every`].

use std::time::Duration;

use actix_session::Session;
use actix_web::cookie::Key;
use chrono::NaiveDateTime;
use sha2::{Digest, Sha256, Sha512};

use super::token::constant_time_eq;
use crate::db::models::{SiteSetting, User, UserSession};
use crate::db::{DbConn, now};
use crate::settings::Settings;

const SESSION_KEY: &str = "session_key";
const CSRF: &str = "csrf_token";
/// Name of the session cookie.
pub const COOKIE_NAME: &str = "sodarcache_session";
/// Form field and header that carry the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
/// Header alternative to the form field (as Django's `X-CSRFToken`).
pub const CSRF_HEADER: &str = "X-CSRFToken";

/// The cookie key: from `SODARCACHE_SECRET_KEY`, or generated once and kept in the
/// database so restarts and other instances keep sessions valid.
pub fn cookie_key(conn: &mut DbConn, configured: Option<&str>) -> crate::Result<Key> {
    let secret = match configured {
        Some(s) => s.to_owned(),
        None => {
            let fresh = format!(
                "{}{}",
                super::token::generate().secret,
                super::token::generate().secret
            );
            SiteSetting::get_or_insert(conn, "secret_key", &fresh)?
        }
    };
    // Any length of secret becomes the 64 bytes the cookie key needs.
    Ok(Key::from(&Sha512::digest(secret.as_bytes())))
}

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// `SODARCACHE_SESSION_IDLE_SECONDS`: a session without a request for this long has
    /// ended (default one day).
    pub idle: Duration,
    /// `SODARCACHE_SESSION_MAX_AGE_SECONDS`: a session ends this long after login,
    /// whatever happens (default two weeks, Django's `SESSION_COOKIE_AGE`).
    pub max_age: Duration,
}

impl SessionPolicy {
    /// The policy the settings give.
    pub fn from_settings(settings: &Settings) -> Self {
        SessionPolicy {
            idle: settings.session_idle,
            max_age: settings.session_max_age,
        }
    }

    /// How stale `last_seen` may get before a request writes it: a twentieth of the
    /// idle timeout, from 1 s to 60 s, so busy sessions cost a write a minute at most.
    pub fn touch_every(&self) -> Duration {
        (self.idle / 20).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    fn chrono(d: Duration) -> chrono::Duration {
        chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
    }

    /// Whether a session is still live at `at`.
    pub fn is_live(&self, s: &UserSession, at: NaiveDateTime) -> bool {
        at < s.expires && at - s.last_seen < Self::chrono(self.idle)
    }
}

fn key_digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The session key the cookie carries, if any.
pub fn key(session: &Session) -> Option<String> {
    session.get::<String>(SESSION_KEY).ok().flatten()
}

/// Starts a server-side session for `user` and returns its key (for [`log_in`]).
pub fn start(conn: &mut DbConn, user: &User, policy: &SessionPolicy) -> crate::Result<String> {
    let key = super::token::generate().secret;
    let now = now();
    let expires = now
        .checked_add_signed(SessionPolicy::chrono(policy.max_age))
        .unwrap_or(NaiveDateTime::MAX);
    UserSession::create(conn, &key_digest(&key), user.id, now, expires)?;
    Ok(key)
}

/// The active user of the live session `key`, if any. An ended session's row is
/// deleted; a live one's `last_seen` moves forward when it is stale.
pub fn user_for_key(
    conn: &mut DbConn,
    key: &str,
    policy: &SessionPolicy,
) -> crate::Result<Option<User>> {
    let digest = key_digest(key);
    let Some((session, user)) = UserSession::find_with_user(conn, &digest)? else {
        return Ok(None);
    };
    let now = now();
    if !policy.is_live(&session, now) {
        UserSession::delete_by_digest(conn, &digest)?;
        return Ok(None);
    }
    if !user.is_active {
        return Ok(None);
    }
    if now - session.last_seen >= SessionPolicy::chrono(policy.touch_every()) {
        UserSession::touch(conn, session.id, now)?;
    }
    Ok(Some(user))
}

/// The logged-in, active user of the cookie `session`, if any.
pub fn current_user(
    conn: &mut DbConn,
    session_key: Option<&str>,
    policy: &SessionPolicy,
) -> crate::Result<Option<User>> {
    match session_key {
        Some(key) => user_for_key(conn, key, policy),
        None => Ok(None),
    }
}

/// Ends the session `key` everywhere; whether it existed.
pub fn revoke(conn: &mut DbConn, key: &str) -> crate::Result<bool> {
    Ok(UserSession::delete_by_digest(conn, &key_digest(key))?)
}

/// Ends every session of a user everywhere; how many there were.
pub fn revoke_all(conn: &mut DbConn, user: &User) -> crate::Result<usize> {
    Ok(UserSession::delete_for_user(conn, user.id)?)
}

/// Deletes ended sessions; how many.
pub fn prune(conn: &mut DbConn, policy: &SessionPolicy) -> crate::Result<usize> {
    let now = now();
    let idle_before = now - SessionPolicy::chrono(policy.idle);
    Ok(UserSession::prune(conn, now, idle_before)?)
}

/// Logs in with the server-side session `key` (from [`start`]): a new cookie session
/// (fixation defence) with a fresh CSRF token.
pub fn log_in(session: &Session, key: &str) -> crate::Result<()> {
    session.renew();
    session.clear();
    session
        .insert(SESSION_KEY, key)
        .and_then(|_| session.insert(CSRF, new_csrf_token()))
        .map_err(|e| crate::Error::Internal(format!("session: {e}")))
}

/// Forgets the cookie's session (the server-side one must be revoked separately).
pub fn log_out(session: &Session) {
    session.purge();
}

/// The session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(CSRF) {
        return t;
    }
    let t = new_csrf_token();
    let _ = session.insert(CSRF, &t);
    t
}

/// Whether `provided` matches the session's CSRF token (constant time).
pub fn check_csrf(session: &Session, provided: Option<&str>) -> bool {
    match (session.get::<String>(CSRF).ok().flatten(), provided) {
        (Some(expected), Some(given)) => constant_time_eq(expected.as_bytes(), given.as_bytes()),
        _ => false,
    }
}

fn new_csrf_token() -> String {
    super::token::generate().secret
}
