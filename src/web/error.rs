//! Errors of the admin pages: a redirect to the login page, or an HTML error page
//! rendered through the layout (plain text if even that fails).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

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

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: super::page::Layout,
    status: u16,
    reason: &'a str,
    message: String,
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::Login { .. } => StatusCode::SEE_OTHER,
            WebError::App(e) => e.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::Login { next } => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, super::page::login_url(next)))
                .finish(),
            WebError::App(e) => {
                if let Error::Internal(detail) = e {
                    tracing::error!(%detail, "internal error");
                }
                let status = e.status();
                let page = ErrorPage {
                    layout: super::page::Layout::anonymous(),
                    status: status.as_u16(),
                    reason: status.canonical_reason().unwrap_or("Error"),
                    message: e.public_message(),
                };
                match page.render() {
                    Ok(html) => HttpResponse::build(status)
                        .content_type(ContentType::html())
                        .body(html),
                    Err(_) => HttpResponse::build(status)
                        .content_type(ContentType::plaintext())
                        .body(e.public_message()),
                }
            }
        }
    }
}
