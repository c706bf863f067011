//! Argon2id password hashing. Callers run these off the async threads (`web::block`).

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// A valid hash of a random password, checked for unknown users so that a login for a
/// missing username takes as long as one for an existing user.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash(&uuid::Uuid::new_v4().to_string()).expect("hashing a fixed-size password succeeds")
});

/// Hashes a password into a PHC string (`$argon2id$v=19$...`).
pub fn hash(password: &str) -> Result<String, crate::Error> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| crate::Error::Internal(format!("password hashing failed: {e}")))
}

/// Checks `password` against a stored hash; `None` checks against a dummy hash and
/// returns false, taking the same time.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let (stored, real) = match stored {
        Some(s) => (s, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}
