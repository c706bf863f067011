//! API tokens: 64 hex characters, shown once. We keep the first [`PREFIX_LEN`]
//! characters for lookup and a SHA-512 digest of the whole token.

use rand::RngCore;
use sha2::{Digest, Sha512};

use crate::db::DbConn;
use crate::db::models::{ApiToken, User};

/// The longest expiry a token may get: 100 years. Longer ones would overflow the
/// timestamp types, and a token for longer is one without an expiry.
pub const MAX_EXPIRY_HOURS: u32 = 24 * 365 * 100;

/// Characters of the token kept in clear for lookup.
pub const PREFIX_LEN: usize = 8;

/// A freshly generated token: the secret to show once, and what to store.
#[derive(Debug, Clone)]
pub struct GeneratedToken {
    /// The whole token.
    pub secret: String,
    /// Lookup prefix.
    pub prefix: String,
    /// Hex SHA-512 of the whole token.
    pub digest: String,
}

/// Generates a token from the OS random source.
pub fn generate() -> GeneratedToken {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    GeneratedToken {
        prefix: secret[..PREFIX_LEN].to_owned(),
        digest: digest(&secret),
        secret,
    }
}

/// Hex SHA-512 of a token.
pub fn digest(token: &str) -> String {
    let mut hex = [0u8; 128];
    // A 64-byte digest always fits 128 hex digits.
    let _ = hex::encode_to_slice(Sha512::digest(token.as_bytes()), &mut hex);
    hex.iter().map(|&b| char::from(b)).collect()
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Creates and stores a token for `user`, returning the secret.
pub fn create(conn: &mut DbConn, user: &User, expiry_hours: Option<u32>) -> crate::Result<String> {
    let token = generate();
    let expiry = match expiry_hours {
        None => None,
        Some(h) if h > MAX_EXPIRY_HOURS => {
            return Err(crate::Error::BadRequest(format!(
                "Token expiry must be at most {MAX_EXPIRY_HOURS} hours (100 years)"
            )));
        }
        Some(h) => Some(crate::db::now() + chrono::Duration::hours(i64::from(h))),
    };
    ApiToken::create(conn, user.id, &token.prefix, &token.digest, expiry)?;
    Ok(token.secret)
}

/// A well-formed token's lookup prefix and digest; `None` for anything that cannot
/// be one of our tokens.
pub fn lookup_key(token: &str) -> Option<(&str, String)> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((&token[..PREFIX_LEN], digest(token)))
}

/// The active user a token belongs to, if the token is valid and not expired.
pub fn authenticate(conn: &mut DbConn, token: &str) -> crate::Result<Option<User>> {
    let Some((_, wanted)) = lookup_key(token) else {
        return Ok(None);
    };
    let now = crate::db::now();
    for candidate in ApiToken::find_by_prefix(conn, &token[..PREFIX_LEN])? {
        if constant_time_eq(candidate.digest.as_bytes(), wanted.as_bytes())
            && !candidate.expired_at(now)
        {
            return Ok(User::find_by_id(conn, candidate.user_id)?.filter(|u| u.is_active));
        }
    }
    Ok(None)
}
