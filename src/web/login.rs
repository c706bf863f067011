//! `GET /login`, `POST /login`, `POST /logout`.
//!
//! Passwords are checked through [`crate::auth::throttle`] (counted first, atomically;
//! at most so many at once; unknown users as slow as known ones). A locked-out login
//! is a 429 showing the form and when to try again, with `Retry-After`.

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
use crate::auth::address::client_ip;
use crate::auth::session::{self, SessionPolicy};
use crate::auth::throttle::Verdict;
use crate::state::AppState;

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

/// Only paths of this site are followed after login (no open redirect): `next` must
/// start with one `/` and hold no backslash and no control character (browsers drop
/// tabs and newlines, so `/<TAB>/evil.example` would become `//evil.example`);
/// anything else is the overview. Non-ASCII characters and spaces are percent-encoded
/// for the `Location` header.
pub fn safe_next(next: &str) -> String {
    let same_site = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(crate::names::is_control);
    if !same_site {
        return "/cache/".to_owned();
    }
    let mut out = String::with_capacity(next.len());
    for c in next.chars() {
        if c.is_ascii_graphic() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
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
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, WebError> {
    let next = safe_next(query.next.as_deref().unwrap_or("/cache/"));
    // Only a live session goes on: a revoked one would bounce between here and the page.
    if let Some(key) = session::key(&session) {
        let policy = SessionPolicy::from_settings(&state.settings);
        if block(&state, move |conn| {
            session::user_for_key(conn, &key, &policy)
        })
        .await?
        .is_some()
        {
            return Ok(redirect(&next));
        }
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
    let username = form.username.trim().to_owned();
    crate::names::check("Usernames", &username)?;
    let ip = client_ip(&req, &state.settings.trusted_proxies)
        .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
    let verdict = state
        .login
        .check(
            &state.pool,
            state.settings.db_timeout,
            ip,
            &username,
            form.password,
        )
        .await?;
    let user = match verdict {
        Verdict::Accepted(user) => Some(user),
        Verdict::Rejected => None,
        Verdict::LockedOut { until } => {
            let wait = (until - crate::db::now()).num_seconds().max(1);
            let mut page = form_page(
                &session,
                safe_next(&form.next),
                username,
                Some("Too many failed login attempts.".into()),
            );
            page.unlock = Some((When::new(until), super::format::ago_until(wait)));
            let mut res = styled(StatusCode::TOO_MANY_REQUESTS, &page)?;
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(wait as u64));
            return Ok(res);
        }
    };
    match user {
        Some(user) => {
            let policy = SessionPolicy::from_settings(&state.settings);
            let previous = session::key(&session);
            let key = block(&state, move |conn| {
                // Logging in again replaces the browser's previous session.
                if let Some(old) = previous {
                    session::revoke(conn, &old)?;
                }
                session::start(conn, &user, &policy)
            })
            .await?;
            session::log_in(&session, &key)?;
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
    state: web::Data<AppState>,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, WebError> {
    check_csrf(&session, &form.csrf_token)?;
    // Revoked in the database: a copy of the cookie opens nothing any more, anywhere.
    if let Some(key) = session::key(&session) {
        block(&state, move |conn| session::revoke(conn, &key).map(drop)).await?;
    }
    // Not `session::log_out` (purge): a purged session ignores inserts, so the flash
    // below would be lost. A renewed, emptied session is just as logged out.
    session.renew();
    session.clear();
    flash(&session, "info", "You are logged out.");
    Ok(redirect("/login"))
}
