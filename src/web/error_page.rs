//! Every error of the admin pages, for any URL, as one styled page: the layout with
//! the navigation and the user's name, the status, what happened and a way on.
//!
//! Handlers' errors carry their message ([`ErrorMessage`]); errors from elsewhere
//! (unknown URLs, wrong methods, bodies actix refused) get a sentence for their status.

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, ContentType};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::error::{ErrorMessage, StyledPage};
use super::page::{Layout, block};
use crate::auth::session;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    reason: &'static str,
    message: String,
    login: Option<String>,
}

/// What to say about an error that came without a message.
fn default_message(status: StatusCode, method: &Method) -> String {
    match status {
        StatusCode::NOT_FOUND => "There is no page at this address.".into(),
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("This address does not answer a {method} request.")
        }
        StatusCode::PAYLOAD_TOO_LARGE => "The request is too large.".into(),
        s if s.is_server_error() => "Something went wrong on the server; see its log.".into(),
        _ => "The request is not valid.".into(),
    }
}

/// `ErrorHandlers` default handler: replaces any error response not already a page.
pub fn styled_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if res.response().extensions().get::<StyledPage>().is_some() {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    Ok(ErrorHandlerResponse::Future(Box::pin(async move {
        let status = res.status();
        let message = res.response().extensions().get::<ErrorMessage>().cloned();
        let (req, old) = res.into_parts();
        let message = match message {
            Some(ErrorMessage(m)) => m,
            None => default_message(status, req.method()),
        };
        let session = req.get_session();
        let user = match (
            session::key(&session),
            req.app_data::<web::Data<AppState>>(),
        ) {
            (Some(key), Some(state)) => {
                let policy = session::SessionPolicy::from_settings(&state.settings);
                block(state, move |conn| {
                    session::user_for_key(conn, &key, &policy)
                })
                .await
                .ok()
                .flatten()
            }
            _ => None,
        };
        let layout = match &user {
            Some(u) => Layout::new(&session, u),
            None => Layout::guest(&session),
        };
        let login = user.is_none().then(|| {
            let next = match req.uri().query() {
                Some(q) => format!("{}?{q}", req.path()),
                None => req.path().to_owned(),
            };
            super::page::login_url(if req.method() == Method::GET {
                &next
            } else {
                "/cache/"
            })
        });
        let page = ErrorPage {
            layout,
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message,
            login,
        };
        let mut new = match page.render() {
            Ok(html) => HttpResponse::build(status)
                .content_type(ContentType::html())
                .body(html),
            Err(_) => HttpResponse::build(status)
                .content_type(ContentType::plaintext())
                .body(page.message),
        };
        // Keep what the original response said besides its body (Retry-After, Allow,
        // ...), but never let the page (it names the user) be cached.
        for (name, value) in old.headers() {
            if ![
                header::CONTENT_TYPE,
                header::CONTENT_LENGTH,
                header::CACHE_CONTROL,
            ]
            .contains(name)
            {
                new.headers_mut().insert(name.clone(), value.clone());
            }
        }
        new.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        let new: HttpResponse<BoxBody> = new;
        Ok(ServiceResponse::new(req, new).map_into_right_body())
    })))
}
