//! Extractors for who is asking and what they sent, so a handler's arguments say what
//! it needs and its body reads as its purpose (Lemmy's `LocalUserView` pattern):
//!
//! * [`CurrentUser`]: the logged-in, active user, loaded off the async threads;
//!   otherwise the request is answered with a redirect to `/login?next=...`.
//! * [`CsrfForm<T>`]: a form whose `csrf_token` matched the session's (403 otherwise),
//!   deserialized into `T` (400 when it does not fit).

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::WebError;
use super::page::{block, check_csrf};
use crate::Error;
use crate::auth::session::{self, SessionPolicy};
use crate::db::models::User;
use crate::state::AppState;

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, WebError>>>>;

/// The logged-in, active user. A request without one gets the login redirect (and an
/// inactive or deleted user's session is ended).
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl Deref for CurrentUser {
    type Target = User;

    fn deref(&self) -> &User {
        &self.0
    }
}

impl CurrentUser {
    /// The user, owned.
    pub fn into_inner(self) -> User {
        self.0
    }
}

impl FromRequest for CurrentUser {
    type Error = WebError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = req.get_session();
            let Some(key) = session::key(&session) else {
                return Err(login_required(&req));
            };
            let state = app_state(&req)?;
            let policy = SessionPolicy::from_settings(&state.settings);
            // The one place every admin page passes: a revoked, expired or idle session,
            // or an inactive user, ends here (one indexed lookup).
            let user = block(&state, move |conn| {
                session::user_for_key(conn, &key, &policy)
            })
            .await?;
            match user {
                Some(u) => Ok(CurrentUser(u)),
                None => {
                    session::log_out(&session);
                    Err(login_required(&req))
                }
            }
        })
    }
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, WebError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Error::Internal("application state is not configured".into()).into())
}

/// The redirect to the login page and back to this request's path and query.
fn login_required(req: &HttpRequest) -> WebError {
    let next = match req.uri().query() {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path().to_owned(),
    };
    WebError::Login { next }
}

/// A URL-encoded form whose `csrf_token` field matched the session's token. The
/// other fields are deserialized into `T` (which must not deny unknown fields).
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

impl<T> Deref for CsrfForm<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> CsrfForm<T> {
    /// The form's fields.
    pub fn into_inner(self) -> T {
        self.0
    }
}

#[derive(Deserialize)]
struct TokenField {
    #[serde(default)]
    csrf_token: String,
}

/// A form with nothing but the CSRF token.
#[derive(Debug, Deserialize)]
pub struct NoFields {}

impl<T: DeserializeOwned + 'static> FromRequest for CsrfForm<T> {
    type Error = WebError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let session = req.get_session();
        Box::pin(async move {
            let body = body.await.map_err(|e| Error::BadRequest(e.to_string()))?;
            let text = std::str::from_utf8(&body)
                .map_err(|_| Error::BadRequest("The form is not valid UTF-8".into()))?;
            let token = web::Query::<TokenField>::from_query(text)
                .map(|t| t.into_inner().csrf_token)
                .unwrap_or_default();
            check_csrf(&session, &token)?;
            let form = web::Query::<T>::from_query(text)
                .map_err(|e| Error::BadRequest(format!("Invalid form: {e}")))?;
            Ok(CsrfForm(form.into_inner()))
        })
    }
}
