//! What every page shares: the layout's data, rendering, flash messages, the CSRF
//! check and running database work off the async threads. Who is asking comes from
//! the extractors in [`extract`](super::extract).

use actix_session::Session;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::WebError;
use crate::auth::session;
use crate::db::DbConn;
use crate::db::models::User;
use crate::state::AppState;
use crate::{Error, Result};

/// A one-time message shown on the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    /// `success`, `info` or `error`.
    pub level: String,
    /// The text.
    pub text: String,
}

const FLASH_KEY: &str = "flash";
/// Flash messages kept for the next page: the newest ones (many POSTs without a page
/// load in between once grew the session cookie past the browsers' 4 KB, then a 500).
pub const MAX_FLASHES: usize = 5;
/// Longest flash text kept, in characters (longer ones end with an ellipsis).
pub const MAX_FLASH_CHARS: usize = 300;

/// Queues a flash message for the next page; only the newest [`MAX_FLASHES`] are kept.
pub fn flash(session: &Session, level: &str, text: impl Into<String>) {
    let mut all: Vec<Flash> = session.get(FLASH_KEY).ok().flatten().unwrap_or_default();
    let mut text: String = text.into();
    if let Some((cut, _)) = text.char_indices().nth(MAX_FLASH_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    all.push(Flash {
        level: level.to_owned(),
        text,
    });
    let excess = all.len().saturating_sub(MAX_FLASHES);
    all.drain(..excess);
    let _ = session.insert(FLASH_KEY, all);
}

/// Data of the layout template: who is logged in, the CSRF token for forms, flashes.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// Username, when logged in.
    pub username: Option<String>,
    /// Whether the user is a superuser.
    pub superuser: bool,
    /// The session's CSRF token.
    pub csrf: String,
    /// Messages queued by the previous request.
    pub flashes: Vec<Flash>,
}

impl Layout {
    /// The layout for a logged-in user; takes the session's flash messages.
    pub fn new(session: &Session, user: &User) -> Self {
        let flashes = session
            .remove_as::<Vec<Flash>>(FLASH_KEY)
            .and_then(|r| r.ok())
            .unwrap_or_default();
        Layout {
            username: Some(user.username.clone()),
            superuser: user.is_superuser,
            csrf: session::csrf_token(session),
            flashes,
        }
    }

    /// The layout for a visitor who is not logged in: CSRF token and flashes only.
    pub fn guest(session: &Session) -> Self {
        Layout {
            csrf: session::csrf_token(session),
            flashes: session
                .remove_as::<Vec<Flash>>(FLASH_KEY)
                .and_then(|r| r.ok())
                .unwrap_or_default(),
            ..Layout::default()
        }
    }

    /// The layout for pages without a user (login, errors).
    pub fn anonymous() -> Self {
        Layout::default()
    }
}

/// Renders a page with status 200.
pub fn render(page: impl Template) -> Result<HttpResponse, WebError> {
    let html = page
        .render()
        .map_err(|e| Error::Internal(format!("template: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(html))
}

/// A 303 redirect (after a POST).
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to.to_owned()))
        .finish()
}

/// `/login?next=...`, with `next` percent-encoded.
pub fn login_url(next: &str) -> String {
    format!("/login?next={}", encode_component(next))
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs `f` with a pooled connection on the blocking pool, every wait bounded
/// ([`crate::db::blocking`]).
pub async fn block<T, F>(state: &web::Data<AppState>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
{
    crate::db::blocking::with_conn(&state.pool, state.settings.db_timeout, f).await
}

/// Rejects a POST whose CSRF token does not match the session's (403).
pub fn check_csrf(session: &Session, token: &str) -> Result<(), WebError> {
    if session::check_csrf(session, Some(token)) {
        Ok(())
    } else {
        Err(
            Error::Forbidden("CSRF verification failed. Reload the page and try again.".into())
                .into(),
        )
    }
}

/// Parses a UUID from a path; anything else is a 404.
pub fn parse_uuid(s: &str) -> Result<uuid::Uuid, WebError> {
    uuid::Uuid::parse_str(s).map_err(|_| Error::not_found().into())
}

/// A 403 for a button the user may not use.
pub fn forbidden() -> WebError {
    Error::permission_denied().into()
}

/// The `page` query parameter: a positive number, anything else (missing, `abc`, `0`,
/// `-3`, too large) is page 1, so an edited or truncated link still shows a page.
pub fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|&p| p >= 1)
        .unwrap_or(1)
}

/// How many pages `total` rows make (at least one).
pub fn page_count(total: i64, per_page: i64) -> i64 {
    ((total + per_page - 1) / per_page).max(1)
}

/// Links to one listing with some of its query parameters changed (search, filters,
/// sort and page kept unless changed), for sort headers, chips and pagers.
#[derive(Debug, Clone, Default)]
pub struct QueryLinks {
    base: String,
    params: Vec<(&'static str, String)>,
}

impl QueryLinks {
    /// Links to `base` with the current parameters `params` (empty values are left out).
    pub fn new(base: impl Into<String>, params: &[(&'static str, &str)]) -> Self {
        QueryLinks {
            base: base.into(),
            params: params
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (*k, (*v).to_owned()))
                .collect(),
        }
    }

    /// The listing's path without parameters.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The link with `changes` applied (an empty value removes the parameter). The
    /// page goes back to 1 unless `changes` names one.
    pub fn with(&self, changes: &[(&'static str, &str)]) -> String {
        let mut params: Vec<(&str, &str)> = self
            .params
            .iter()
            .filter(|(k, _)| *k != "page" && !changes.iter().any(|(c, _)| c == k))
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        params.extend(
            changes
                .iter()
                .filter(|(k, v)| !(v.is_empty() || *k == "page" && *v == "1"))
                .copied(),
        );
        if params.is_empty() {
            return self.base.clone();
        }
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_component(v)))
            .collect();
        format!("{}?{}", self.base, query.join("&"))
    }

    /// The link to page `page`, everything else kept.
    pub fn page(&self, page: i64) -> String {
        self.with(&[("page", &page.to_string())])
    }
}

/// The sort state of a listing: which column, which direction.
#[derive(Debug, Clone)]
pub struct SortState {
    /// The current sort key.
    pub key: String,
    /// Descending.
    pub desc: bool,
}

impl SortState {
    /// `aria-sort` of the column `key`: `ascending`, `descending`, or none.
    pub fn aria(&self, key: &str) -> Option<&'static str> {
        (self.key == key).then_some(if self.desc { "descending" } else { "ascending" })
    }

    /// `▲`/`▼` on the current sort column.
    pub fn arrow(&self, key: &str) -> &'static str {
        match self.aria(key) {
            Some("ascending") => " ▲",
            Some(_) => " ▼",
            None => "",
        }
    }

    /// The header link of column `key`: sorts by it, flipping the direction when it is
    /// the current column; `first_desc` columns (sizes, times) start descending.
    pub fn link(&self, links: &QueryLinks, key: &str, first_desc: bool) -> String {
        let desc = if self.key == key {
            !self.desc
        } else {
            first_desc
        };
        links.with(&[("sort", key), ("dir", if desc { "desc" } else { "" })])
    }
}
