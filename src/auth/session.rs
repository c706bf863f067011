//! Cookie sessions: what they hold, and the CSRF token bound to each.
//!
//! The session is a signed and encrypted cookie (no server-side store), so any server
//! instance sharing the secret key reads it. It holds the user id and a CSRF token.

use actix_session::Session;
use actix_web::cookie::Key;
use sha2::{Digest, Sha512};

use super::token::constant_time_eq;
use crate::db::DbConn;
use crate::db::models::{SiteSetting, User};

const USER_ID: &str = "user_id";
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

/// The id of the logged-in user, if any.
pub fn user_id(session: &Session) -> Option<i64> {
    session.get::<i64>(USER_ID).ok().flatten()
}

/// The logged-in, active user, if any.
pub fn current_user(conn: &mut DbConn, session: &Session) -> crate::Result<Option<User>> {
    match user_id(session) {
        Some(id) => Ok(User::find_by_id(conn, id)?.filter(|u| u.is_active)),
        None => Ok(None),
    }
}

/// Logs `user` in: a new session (fixation defence) with a fresh CSRF token.
pub fn log_in(session: &Session, user: &User) -> crate::Result<()> {
    session.renew();
    session.clear();
    session
        .insert(USER_ID, user.id)
        .and_then(|_| session.insert(CSRF, new_csrf_token()))
        .map_err(|e| crate::Error::Internal(format!("session: {e}")))
}

/// Logs out: the session is emptied and its cookie removed.
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
