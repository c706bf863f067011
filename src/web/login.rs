//! `GET /login`, `POST /login`, `POST /logout`.
//!
//! Passwords are checked off the async threads; unknown users are checked against a
//! dummy hash so both take as long. After [`MAX_FAILURES`] failures for a username
//! from one address, that pair gets 429 for [`LOCKOUT`].

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::WebError;
use super::error::StyledPage;
use super::extract::CurrentUser;
use super::format::When;
use super::page::{Layout, block, check_csrf, flash, redirect, render};
use crate::Error;
use crate::auth::{password, session};
use crate::db::models::{LoginAttempt, User};
use crate::state::AppState;

/// Failures allowed before the lockout.
pub const MAX_FAILURES: i64 = 5;
/// How long the lockout lasts, and how far back failures count.
pub const LOCKOUT: chrono::Duration = chrono::Duration::minutes(5);

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    username: String,
    error: Option<String>,
    /// When a locked-out username may try again, and how long that is from now.
    unlock: Option<(When, String)>,
}

/// Query of the login page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    next: String,
}

/// Only local paths are followed after login (no open redirect).
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/cache/".to_owned()
    }
}

fn form_page(
    session: &Session,
    next: String,
    username: String,
    error: Option<String>,
) -> LoginPage {
    LoginPage {
        layout: Layout::guest(session),
        next,
        username,
        error,
        unlock: None,
    }
}

/// Shows the login form (or goes on when already logged in).
#[get("/login")]
pub async fn login_form(
    session: Session,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, WebError> {
    let next = safe_next(query.next.as_deref().unwrap_or("/cache/"));
    if session::user_id(&session).is_some() {
        return Ok(redirect(&next));
    }
    render(form_page(&session, next, String::new(), None))
}

/// Checks the credentials and logs in.
#[post("/login")]
pub async fn login(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    let form = form.into_inner();
    let ip = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let username = form.username.trim().to_owned();
    let (u, i) = (username.clone(), ip.clone());
    let recent = block(&state, move |conn| {
        Ok(LoginAttempt::recent(
            conn,
            &u,
            &i,
            crate::db::now() - LOCKOUT,
            MAX_FAILURES,
        )?)
    })
    .await?;
    if recent.len() as i64 >= MAX_FAILURES {
        // Locked until the oldest of the last MAX_FAILURES failures leaves the window.
        let unlock = recent[recent.len() - 1] + LOCKOUT;
        let wait = (unlock - crate::db::now()).num_seconds().max(1);
        let mut page = form_page(
            &session,
            safe_next(&form.next),
            username,
            Some("Too many failed login attempts for this username from your address.".into()),
        );
        page.unlock = Some((When::new(unlock), super::format::ago_until(wait)));
        let mut res = styled(StatusCode::TOO_MANY_REQUESTS, &page)?;
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(wait as u64));
        return Ok(res);
    }
    let (u, i) = (username.clone(), ip.clone());
    let pool = state.pool.clone();
    let user = web::block(move || -> crate::Result<Option<User>> {
        let mut conn = pool.get()?;
        let user = User::find_by_username(&mut conn, &u)?.filter(|u| u.is_active);
        let ok = password::verify(
            &form.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        );
        if ok {
            LoginAttempt::clear(&mut conn, &u, &i, crate::db::now() - LOCKOUT)?;
            Ok(user)
        } else {
            LoginAttempt::record_failure(&mut conn, &u, &i)?;
            Ok(None)
        }
    })
    .await
    .map_err(Error::from)??;
    match user {
        Some(user) => {
            session::log_in(&session, &user)?;
            Ok(redirect(&safe_next(&form.next)))
        }
        None => {
            let page = form_page(
                &session,
                safe_next(&form.next),
                username,
                Some("Wrong username or password.".into()),
            );
            styled(StatusCode::UNAUTHORIZED, &page)
        }
    }
}

/// A complete page with an error status (the error-page middleware leaves it alone).
fn styled(status: StatusCode, page: &impl Template) -> Result<HttpResponse, WebError> {
    let html = page
        .render()
        .map_err(|e| Error::Internal(format!("template: {e}")))?;
    let mut res = HttpResponse::build(status)
        .content_type(header::ContentType::html())
        .body(html);
    res.extensions_mut().insert(StyledPage);
    Ok(res)
}

/// The logout form.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    layout: Layout,
}

/// `GET /logout` (a bookmark, a typed address): asks with a button, since logging out
/// is a POST with the CSRF token.
#[get("/logout")]
pub async fn confirm_logout(
    CurrentUser(user): CurrentUser,
    session: Session,
) -> Result<HttpResponse, WebError> {
    render(LogoutPage {
        layout: Layout::new(&session, &user),
    })
}

/// Logs out.
#[post("/logout")]
pub async fn logout(
    session: Session,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    // Not `session::log_out` (purge): a purged session ignores inserts, so the flash
    // below would be lost. A renewed, emptied session is just as logged out.
    session.renew();
    session.clear();
    flash(&session, "info", "You are logged out.");
    Ok(redirect("/login"))
}
