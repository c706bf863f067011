//! Errors of the admin pages: a redirect to the login page, or a status with its
//! message, which `error_page` renders as a page through the layout.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};

use crate::Error;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Not logged in: go to the login page, then back to `next`.
    #[error("login required")]
    Login {
        /// The page to return to.
        next: String,
    },
    /// Any application error, shown as a page with its status.
    #[error(transparent)]
    App(#[from] Error),
}

impl From<diesel::result::Error> for WebError {
    fn from(e: diesel::result::Error) -> Self {
        WebError::App(e.into())
    }
}

/// The message of an error response, for the error page the middleware renders.
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

/// Marks an error response that is already a complete page (the login form with its
/// 401 or 429), which the error-page middleware leaves as it is.
#[derive(Debug, Clone, Copy)]
pub struct StyledPage;

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::Login { .. } => StatusCode::SEE_OTHER,
            WebError::App(e) => e.status(),
        }
    }

    /// A redirect, or the error's status with its message as plain text; the
    /// [`styled_errors`](super::error_page::styled_errors) middleware turns it into the
    /// page with the layout (navigation, the user's name).
    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::Login { next } => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, super::page::login_url(next)))
                .finish(),
            WebError::App(e) => {
                if let Error::Internal(detail) = e {
                    tracing::error!(%detail, "internal error");
                }
                let message = e.public_message();
                let mut res = HttpResponse::build(e.status());
                if let Some(secs) = e.retry_after() {
                    res.insert_header((header::RETRY_AFTER, secs.to_string()));
                }
                let mut res = res
                    .content_type(ContentType::plaintext())
                    .body(message.clone());
                res.extensions_mut().insert(ErrorMessage(message));
                res
            }
        }
    }
}
