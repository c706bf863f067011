//! The error of the plugin API.

/// Why a context call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sync was cancelled (timeout, the Cancel button, or the job ended): the write
    /// was refused and nothing was written. Return early.
    #[error("the sync was cancelled; nothing more is written")]
    Cancelled,
    /// The plugin may not do this: write under an app it did not declare, or outside
    /// the scope of its job.
    #[error("{0}")]
    NotAllowed(String),
    /// Bad input: an empty or too long name, `null` data, invalid JSON.
    #[error("{0}")]
    Invalid(String),
    /// The database is unreachable (a pool timeout or a lost connection).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (the text is for the log).
    #[error("{0}")]
    Internal(String),
}

/// A context call's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<crate::Error> for Error {
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::BadRequest(m) | crate::Error::PayloadTooLarge(m) => Error::Invalid(m),
            crate::Error::Forbidden(m) | crate::Error::Unauthorized(m) => Error::NotAllowed(m),
            crate::Error::Unavailable(m) => Error::Unavailable(m),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(e: diesel::result::Error) -> Self {
        crate::Error::from(e).into()
    }
}

impl From<diesel::r2d2::PoolError> for Error {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        crate::Error::from(e).into()
    }
}
