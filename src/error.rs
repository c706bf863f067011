//! One error type for the whole crate.
//!
//! Policy (after crates.io): models return `QueryResult`; the cache API, handlers and
//! commands return [`Error`]. Diesel's `NotFound` is a 404; a pool timeout or a lost
//! connection is a 503; anything unexpected is a 500 whose body never carries internals
//! (the details go to the log).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// What went wrong, as the client should see it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 400: the request or the arguments are invalid.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 409: the change breaks a uniqueness rule.
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is too large.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 429: too many attempts.
    #[error("{0}")]
    TooManyRequests(String),
    /// 429 with `Retry-After`: locked out by the login throttle for `retry_after` seconds.
    #[error("{detail}")]
    LockedOut {
        /// What to tell the client.
        detail: String,
        /// Seconds until the lockout ends.
        retry_after: u32,
    },
    /// 503: the database or the cache backend is unavailable.
    #[error("{0}")]
    Unavailable(String),
    /// 503 with `Retry-After`: the server is at a limit it keeps on purpose (password
    /// checks, request bodies in memory); the same request shortly after may succeed.
    #[error("{0}")]
    Busy(String),
    /// 500: a bug or an unexpected failure; the text is logged, never sent.
    #[error("{0}")]
    Internal(String),
}

/// 503 text when the database's storage is full.
pub const STORAGE_FULL: &str = "The database storage is full: nothing was written. Reads still work; writes will again once space is freed.";

/// Seconds a client is asked to wait (`Retry-After`) after an [`Error::Busy`].
pub const BUSY_RETRY_AFTER_SECONDS: u32 = 1;

/// Upstream's (Django REST framework's) text for a missing permission.
pub const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooManyRequests(_) | Error::LockedOut { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) | Error::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The text safe to show a client: internals are replaced by a generic sentence.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "Internal server error, see the server log.".to_owned(),
            other => other.to_string(),
        }
    }

    /// Seconds for a `Retry-After` header, for errors that pass with time.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Error::Busy(_) => Some(BUSY_RETRY_AFTER_SECONDS),
            Error::LockedOut { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// 403 with upstream's wording.
    pub fn permission_denied() -> Self {
        Error::Forbidden(PERMISSION_DENIED.into())
    }

    /// 404 with upstream's wording.
    pub fn not_found() -> Self {
        Error::NotFound("Not found.".into())
    }
}

/// `{"detail": "..."}` in ASCII: characters beyond ASCII as `\uXXXX` escapes. Details
/// echo what clients sent (names, app names), and clients that decode a JSON body as
/// text without a charset guess its encoding (Python's `requests` guessed Shift JIS
/// for a name with U+40841, and the escaped quote after it vanished); the same JSON in
/// ASCII reads the same in every encoding.
pub fn detail_json(detail: &str) -> String {
    let raw = serde_json::json!({ "detail": detail }).to_string();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error as D};
        match e {
            D::NotFound => Error::not_found(),
            D::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                Error::Unavailable("Database unavailable".into())
            }
            // SQLITE_FULL, or PostgreSQL's disk_full (53100) / "No space left on device":
            // the write did not happen, and the same request may succeed once space is
            // freed. Reads keep working.
            D::DatabaseError(_, info)
                if info.message().contains("database or disk is full")
                    || info.message().contains("No space left on device")
                    || info.message().contains("could not extend file") =>
            {
                Error::Unavailable(STORAGE_FULL.into())
            }
            D::DatabaseError(kind, info)
                if info.message().contains("database is locked")
                    || info.message().contains("server closed the connection")
                    || info.message().contains("terminating connection")
                    || info.message().contains("no connection to the server")
                    || matches!(kind, DatabaseErrorKind::Unknown)
                        && info.message().contains("connection") =>
            {
                Error::Unavailable("Database unavailable".into())
            }
            other => Error::Internal(format!("database error: {other}")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(_: diesel::r2d2::PoolError) -> Self {
        Error::Unavailable("Database unavailable".into())
    }
}

impl From<actix_web::error::BlockingError> for Error {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Error::Internal(format!("blocking task failed: {e}"))
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Error::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
        let mut res = HttpResponse::build(self.status());
        if let Some(secs) = self.retry_after() {
            res.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
        }
        res.content_type(actix_web::http::header::ContentType::json())
            .body(detail_json(&self.public_message()))
    }
}

#[cfg(test)]
mod tests {
    use super::detail_json;

    #[test]
    fn details_are_ascii_json_that_reads_back_the_same() {
        for text in ["plain", "caf\u{e9} \"q\"", "\u{40841}\\", "\u{0}"] {
            let body = detail_json(text);
            assert!(body.is_ascii(), "{body}");
            let back: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(back["detail"], text);
        }
    }
}
