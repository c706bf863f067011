//! Who is calling: HTTP Basic credentials, an API token, a logged-in session, or nobody.
//!
//! `Authorization: Basic <base64 of user:password>` (first in SODAR's REST settings) and
//! `Authorization: token <key>` are tried first (schemes case-insensitive, as in DRF);
//! any other scheme (`Bearer`) is not ours and counts as no credentials. Without them, a
//! session cookie's user is the caller; an unsafe method (POST, DELETE) then needs
//! `X-CSRFToken` matching the session's token. A request that carries a token or a
//! password is not checked for CSRF: browsers never attach those on their own (a browser
//! that was given a Basic password for this API would, but only after a challenge that
//! only this API's 401s send).
//!
//! A Basic password is checked by [`Credentials::check_password`] through
//! [`crate::auth::throttle`], exactly as the login page's: counted first, atomically, the
//! same lockout for the same (address, username) and address, at most so many checks at
//! once. [`Credentials`] is read from the request on the async side (sessions are not
//! `Send`); [`Credentials::resolve`] does the database part inside `web::block`.

use actix_session::SessionExt;
use actix_web::HttpRequest;
use actix_web::http::header;

use crate::auth::session::{self, CSRF_HEADER, SessionPolicy};
use crate::auth::throttle::Verdict;
use crate::auth::token;
use crate::db::DbConn;
use crate::db::models::User;
use crate::{Error, Result};

/// 401 text when nothing identifies the caller.
pub const NO_CREDENTIALS: &str = "Authentication credentials were not provided.";
/// 401 text for an unknown, expired or inactive user's token.
pub const INVALID_TOKEN: &str = "Invalid token.";
/// 401 text for a wrong username or password (DRF's).
pub const INVALID_PASSWORD: &str = "Invalid username/password.";
/// 403 text for a session write without a matching CSRF token.
pub const CSRF_FAILED: &str = "CSRF Failed: CSRF token missing or incorrect.";

/// What the request presents, before any database lookup.
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    /// `Authorization: token <key>`.
    Token(String),
    /// `Authorization: Basic ...`, decoded, its password not checked yet.
    Basic {
        /// The username as sent.
        username: String,
        /// The password as sent.
        password: String,
    },
    /// A user whose Basic password [`Credentials::check_password`] accepted.
    Checked(User),
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
        if let Some(found) = req.headers().get(header::AUTHORIZATION).and_then(|value| {
            parse_token_header(value.as_bytes()).or_else(|| parse_basic_header(value.as_bytes()))
        }) {
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

    /// Checks a Basic password through the login throttle (other credentials come back
    /// as they are): the user, or 401 for a wrong username or password, 429 with
    /// `Retry-After` while locked out, 503 with `Retry-After` when no password check
    /// could start in time. Call before [`resolve`](Self::resolve).
    pub async fn check_password(
        self,
        req: &HttpRequest,
        state: &crate::state::AppState,
    ) -> Result<Credentials> {
        let Credentials::Basic { username, password } = self else {
            return Ok(self);
        };
        // A name with a control character names nobody, and is never counted or stored.
        if crate::names::check("Usernames", &username).is_err() {
            return Err(Error::Unauthorized(INVALID_PASSWORD.into()));
        }
        let ip = crate::auth::address::client_ip(req, &state.settings.trusted_proxies)
            .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
        let verdict = state
            .login
            .check(
                &state.pool,
                state.settings.db_timeout,
                ip,
                &username,
                password,
            )
            .await?;
        match verdict {
            Verdict::Accepted(user) => Ok(Credentials::Checked(user)),
            Verdict::Rejected => Err(Error::Unauthorized(INVALID_PASSWORD.into())),
            Verdict::LockedOut { until } => {
                let wait = (until - crate::db::now()).num_seconds().max(1);
                Err(Error::LockedOut {
                    detail: format!("Too many failed login attempts. Try again in {wait} seconds."),
                    retry_after: u32::try_from(wait).unwrap_or(u32::MAX),
                })
            }
        }
    }

    /// Looks the caller up. Fails with 401 for a bad token and 403 for a session
    /// write without CSRF token; never fails for "nobody".
    pub fn resolve(self, conn: &mut DbConn, sessions: &SessionPolicy) -> Result<Caller> {
        match self {
            Credentials::Checked(user) => Ok(Caller::User(user)),
            Credentials::Basic { .. } => Err(Error::Internal(
                "HTTP Basic credentials reached the gate unchecked".into(),
            )),
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
/// Whether `headers` carry an `Authorization` of a scheme the API takes (`token`,
/// `Basic`): then [`Credentials::from_request`] never reads the session.
pub fn names_credentials(headers: &actix_web::http::header::HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).is_some_and(|value| {
        let scheme = value
            .as_bytes()
            .split(|b| b.is_ascii_whitespace())
            .find(|w| !w.is_empty());
        scheme.is_some_and(|s| s.eq_ignore_ascii_case(b"token") || s.eq_ignore_ascii_case(b"basic"))
    })
}

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

/// `Some` when the header uses the `Basic` scheme; `None` for other schemes. As DRF:
/// one base64 word of `user:password`, UTF-8 or else Latin-1.
fn parse_basic_header(raw: &[u8]) -> Option<Credentials> {
    let mut words = raw
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    if !words.next()?.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let Some(encoded) = words.next() else {
        return Some(Credentials::Malformed(
            "Invalid basic header. No credentials provided.",
        ));
    };
    if words.next().is_some() {
        return Some(Credentials::Malformed(
            "Invalid basic header. Credentials string should not contain spaces.",
        ));
    }
    let malformed =
        Credentials::Malformed("Invalid basic header. Credentials not correctly base64 encoded.");
    let Some(decoded) = decode_base64(encoded) else {
        return Some(malformed);
    };
    let text = match String::from_utf8(decoded) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    };
    let Some((username, password)) = text.split_once(':') else {
        return Some(malformed);
    };
    Some(Credentials::Basic {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

/// Standard base64 with padding (RFC 4648 section 4), as Python's `b64decode` with
/// `validate=True` reads it; `None` for anything else.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (i, quad) in text.chunks(4).enumerate() {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != quads) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_named_exactly_when_from_request_reads_no_session() {
        use actix_web::http::header::{HeaderMap, HeaderValue};
        for (value, named) in [
            ("token abc", true),
            ("  TOKEN", true),
            ("Basic dTpw", true),
            ("basic !!", true),
            ("Bearer abc", false),
            ("", false),
            ("tokenabc", false),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            assert_eq!(names_credentials(&headers), named, "{value:?}");
            let parsed = parse_token_header(value.as_bytes())
                .or_else(|| parse_basic_header(value.as_bytes()));
            assert_eq!(parsed.is_some(), named, "{value:?}");
        }
        assert!(!names_credentials(&HeaderMap::new()));
    }

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
        assert_eq!(parse_basic_header(b"Bearer abc"), None);
        assert_eq!(parse_basic_header(b"token abc"), None);
    }

    #[test]
    fn basic_credentials_decode_as_utf8_or_latin1() {
        let basic = |u: &str, p: &str| {
            Some(Credentials::Basic {
                username: u.into(),
                password: p.into(),
            })
        };
        // "alice:pa:ss" - the password may hold colons.
        assert_eq!(
            parse_basic_header(b"BASIC YWxpY2U6cGE6c3M="),
            basic("alice", "pa:ss")
        );
        // "j\xfcrgen:x" in Latin-1.
        assert_eq!(
            parse_basic_header(b"Basic avxyZ2VuOng="),
            basic("jürgen", "x")
        );
        assert!(matches!(
            parse_basic_header(b"Basic !!"),
            Some(Credentials::Malformed(_))
        ));
    }

    #[test]
    fn base64_decodes_padded_standard_text_only() {
        assert_eq!(decode_base64(b"").unwrap(), b"");
        assert_eq!(decode_base64(b"YQ==").unwrap(), b"a");
        assert_eq!(decode_base64(b"YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64(b"YWJj").unwrap(), b"abc");
        assert_eq!(decode_base64(b"+/+/").unwrap(), [0xfb, 0xff, 0xbf]);
        for bad in [&b"YQ"[..], b"Y===", b"YQ==YWJj", b"YW-j", b"YWJ\0"] {
            assert_eq!(decode_base64(bad), None, "{bad:?}");
        }
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
