//! Who is calling: an API token, a logged-in session, or nobody.
//!
//! `Authorization: token <key>` (scheme case-insensitive, as upstream) is tried first;
//! any other scheme (`Bearer`, `Basic`) is not ours and counts as no credentials, as
//! in DRF. Without a token, a session cookie's user is the caller; an unsafe method
//! (POST, DELETE) then needs `X-CSRFToken` matching the session's token. A request
//! that carries a token is not checked for CSRF: browsers never attach it on their own.
//!
//! [`Credentials`] is read from the request on the async side (sessions are not
//! `Send`); [`Credentials::resolve`] does the database part inside `web::block`.

use actix_session::SessionExt;
use actix_web::HttpRequest;
use actix_web::http::header;

use crate::auth::session::{self, CSRF_HEADER, SessionPolicy};
use crate::auth::token;
use crate::db::DbConn;
use crate::db::models::User;
use crate::{Error, Result};

/// 401 text when nothing identifies the caller.
pub const NO_CREDENTIALS: &str = "Authentication credentials were not provided.";
/// 401 text for an unknown, expired or inactive user's token.
pub const INVALID_TOKEN: &str = "Invalid token.";
/// 403 text for a session write without a matching CSRF token.
pub const CSRF_FAILED: &str = "CSRF Failed: CSRF token missing or incorrect.";

/// What the request presents, before any database lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Authorization: token <key>`.
    Token(String),
    /// A `token` header that cannot be a token: 401 with this text.
    Malformed(&'static str),
    /// A session cookie with a session key; `csrf_ok` tells whether the request may write.
    Session {
        /// The cookie's server-side session key.
        key: String,
        /// Safe method, or an unsafe one with the right CSRF token.
        csrf_ok: bool,
    },
    /// Nothing.
    Anonymous,
}

/// The caller, once resolved.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An authenticated, active user.
    User(User),
    /// Nobody (also a session whose user is gone or inactive).
    Anonymous,
}

impl Caller {
    /// The user, if any.
    pub fn user(&self) -> Option<&User> {
        match self {
            Caller::User(u) => Some(u),
            Caller::Anonymous => None,
        }
    }
}

impl Credentials {
    /// Reads the credentials of `req`.
    pub fn from_request(req: &HttpRequest) -> Credentials {
        if let Some(found) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| parse_token_header(value.as_bytes()))
        {
            return found;
        }
        let session = req.get_session();
        match session::key(&session) {
            Some(key) => {
                let csrf_ok = req.method().is_safe()
                    || session::check_csrf(
                        &session,
                        req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()),
                    );
                Credentials::Session { key, csrf_ok }
            }
            None => Credentials::Anonymous,
        }
    }

    /// Looks the caller up. Fails with 401 for a bad token and 403 for a session
    /// write without CSRF token; never fails for "nobody".
    pub fn resolve(self, conn: &mut DbConn, sessions: &SessionPolicy) -> Result<Caller> {
        match self {
            Credentials::Token(key) => token::authenticate(conn, &key)?
                .map(Caller::User)
                .ok_or_else(|| Error::Unauthorized(INVALID_TOKEN.into())),
            Credentials::Malformed(detail) => Err(Error::Unauthorized(detail.into())),
            Credentials::Session { key, csrf_ok } => {
                match session::user_for_key(conn, &key, sessions)? {
                    Some(_) if !csrf_ok => Err(Error::Forbidden(CSRF_FAILED.into())),
                    Some(user) => Ok(Caller::User(user)),
                    None => Ok(Caller::Anonymous),
                }
            }
            Credentials::Anonymous => Ok(Caller::Anonymous),
        }
    }
}

/// `Some` when the header uses the `token` scheme; `None` for other schemes.
fn parse_token_header(raw: &[u8]) -> Option<Credentials> {
    let mut words = raw
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let scheme = words.next()?;
    if !scheme.eq_ignore_ascii_case(b"token") {
        return None;
    }
    let Some(key) = words.next() else {
        return Some(Credentials::Malformed(
            "Invalid token header. No credentials provided.",
        ));
    };
    if words.next().is_some() {
        return Some(Credentials::Malformed(
            "Invalid token header. Token string should not contain spaces.",
        ));
    }
    Some(match std::str::from_utf8(key) {
        Ok(k) => Credentials::Token(k.to_owned()),
        Err(_) => Credentials::Malformed(
            "Invalid token header. Token string should not contain invalid characters.",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_scheme_is_case_insensitive() {
        assert_eq!(
            parse_token_header(b"ToKeN abc"),
            Some(Credentials::Token("abc".into()))
        );
    }

    #[test]
    fn other_schemes_are_not_ours() {
        assert_eq!(parse_token_header(b"Bearer abc"), None);
        assert_eq!(parse_token_header(b"Basic abc"), None);
        assert_eq!(parse_token_header(b""), None);
    }

    #[test]
    fn malformed_token_headers_are_401s() {
        assert!(matches!(
            parse_token_header(b"token"),
            Some(Credentials::Malformed(_))
        ));
        assert!(matches!(
            parse_token_header(b"token a b"),
            Some(Credentials::Malformed(_))
        ));
    }
}
