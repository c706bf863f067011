//! `GET /retrieve/{project}/{app_name}/{item_name}`: an item with its data, in
//! upstream's key order. The stored JSON text goes out as it is, never re-parsed:
//! the body is three chunks (head, data, `}`), so a large item is held once.
//!
//! Beyond upstream: a strong `ETag` and `If-None-Match` → 304, so pollers stop
//! re-downloading unchanged items. The tag is a SHA-256 over the data's stored SHA-256
//! (`cache_items.data_sha256`, computed by the write), the rendered write time and the
//! writer: about a hundred bytes hashed per request, never the data itself.
//!
//! Large items (64 KiB and more) are kept in memory ([`super::body_cache`]): a token
//! caller's one statement then returns the data only when its stored digest is not the
//! kept one's, so an unchanged large item crosses the database connection once.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header;
use actix_web::web::{Bytes, Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ItemPath;
use super::access::{Granted, Need, authorize_item_knowing, authorize_with};
use super::body_cache::Known;
use crate::auth::item_access::{FullItem, ItemBody};
use crate::db::models::CacheItem;
use crate::db::{DbConn, Scope};
use crate::state::AppState;
use crate::{Error, Result};

/// The fields before `data`, in upstream's order.
#[derive(Serialize)]
struct Head<'a> {
    project: uuid::Uuid,
    app_name: &'a str,
    name: &'a str,
    date_modified: String,
    user: Option<uuid::Uuid>,
}

/// A rendered item: the body's chunks and their ETag.
struct Rendered {
    chunks: JsonChunks,
    etag: String,
    /// App, name and last write of the item's current data, for `Age` and the stale
    /// `Warning` (none for an earlier version).
    written: Option<(String, String, chrono::NaiveDateTime)>,
}

/// The `Warning` a stale item's retrieve carries (RFC 7234's code 110).
pub const STALE_WARNING: &str = "110 - \"Response is Stale\"";

/// `Age` (whole seconds since the item's last write) and, past its plugin's
/// [`max_age`](crate::plugin::ProjectAppPlugin::max_age), `Warning: 110`.
fn freshness_headers(
    state: &AppState,
    rendered: &Rendered,
    res: &mut actix_web::HttpResponseBuilder,
) {
    let Some((app, name, modified)) = &rendered.written else {
        return;
    };
    let age = state
        .registry
        .freshness()
        .age(app, name, *modified, crate::db::now());
    res.insert_header((header::AGE, age.seconds));
    if age.is_stale() {
        res.insert_header((header::WARNING, STALE_WARNING));
    }
}

/// The handler.
pub async fn retrieve(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<ItemPath>,
) -> Result<HttpResponse> {
    let path = path.into_inner();
    // `?version=N` (history) takes its own route; without a query string the common
    // path is the single statement it always was.
    let rendered =
        match req.query_string() {
            "" => {
                let app_name = path.app_name.clone();
                let known = state
                    .body_cache
                    .get(&path.project, &path.app_name, &path.item_name);
                let known_sha256 = known.as_ref().map(|k| k.sha256.clone()).unwrap_or_default();
                let key = path.clone();
                let cache = state.clone();
                authorize_item_knowing(
                    &req,
                    &state,
                    path,
                    Need::Read,
                    known_sha256,
                    move |granted, item: Option<ItemBody>| {
                        let item = item.ok_or_else(Error::not_found);
                        render_body(&granted, &app_name, item, known, |sha256, body| {
                            cache.body_cache.put(
                                &key.project,
                                &key.app_name,
                                &key.item_name,
                                sha256,
                                body,
                            );
                        })
                    },
                )
                .await?
            }
            query => {
                // A bad value is a 400 after the access checks, in upstream's order.
                let version = version_param(query);
                let project = path.project.clone();
                authorize_with(&req, &state, &project, Need::Read, move |conn, granted| {
                    match version? {
                        None => {
                            let item = CacheItem::find_with_writer(
                                conn,
                                Scope::from(&granted.project),
                                &path.app_name,
                                &path.item_name,
                            )?;
                            render(&granted, &path.app_name, item)
                        }
                        Some(v) => render_version(conn, &granted, &path, v),
                    }
                })
                .await?
            }
        };
    if etag_matches(&req, &rendered.etag) {
        let mut res = HttpResponse::NotModified();
        freshness_headers(&state, &rendered, &mut res);
        return Ok(res.insert_header((header::ETAG, rendered.etag)).finish());
    }
    let mut res = HttpResponse::Ok();
    freshness_headers(&state, &rendered, &mut res);
    Ok(res
        .content_type("application/json")
        .insert_header((header::ETAG, rendered.etag))
        .body(rendered.chunks))
}

/// [`render`] for an [`ItemBody`]: its data as read, or the kept body `known` when the
/// statement sent none (it matched the kept digest); `keep` is offered a body read
/// from the database, to keep for the next request.
fn render_body(
    granted: &Granted,
    app_name: &str,
    item: Result<ItemBody>,
    known: Option<Known>,
    keep: impl FnOnce(&str, &Bytes),
) -> Result<Rendered> {
    granted.cache.check_app_name(app_name)?;
    let ItemBody { head, data, writer } = item?;
    let head_fields = Head {
        project: granted.project.uuid.0,
        app_name: &head.app_name,
        name: &head.name,
        date_modified: granted.time_zone.render(head.date_modified),
        user: writer.map(|u| u.0),
    };
    let (body, data_sha256) = match (data, known) {
        (Some(data), _) => {
            let sha = head.data_sha256.unwrap_or_else(|| data.sha256_hex());
            let body = Bytes::from(data.into_string());
            keep(&sha, &body);
            (body, sha)
        }
        // The statement left the data out: its stored digest is the kept one's.
        (None, Some(known)) => (known.body, known.sha256),
        (None, None) => {
            return Err(Error::Internal(
                "an item read without data that this process does not keep".into(),
            ));
        }
    };
    let mut rendered = assemble_bytes(&head_fields, body, &data_sha256)?;
    rendered.written = Some((head.app_name, head.name, head.date_modified));
    Ok(rendered)
}

fn render(granted: &Granted, app_name: &str, item: Option<FullItem>) -> Result<Rendered> {
    granted.cache.check_app_name(app_name)?;
    let (item, user) = item.ok_or_else(Error::not_found)?;
    let user = user.map(|u| u.0);
    let head = Head {
        project: granted.project.uuid.0,
        app_name: &item.app_name,
        name: &item.name,
        date_modified: granted.time_zone.render(item.date_modified),
        user,
    };
    let data_sha256 = item.data_sha256.unwrap_or_else(|| item.data.sha256_hex());
    let mut rendered = assemble(&head, item.data.into_string(), &data_sha256)?;
    rendered.written = Some((item.app_name, item.name, item.date_modified));
    Ok(rendered)
}

/// `version=N` from the query string: none without it, a positive integer, or a 400.
fn version_param(query: &str) -> Result<Option<i64>> {
    let bad = || Error::BadRequest("version must be a positive integer".into());
    let params =
        actix_web::web::Query::<std::collections::HashMap<String, String>>::from_query(query)
            .map_err(|_| bad())?;
    match params.get("version") {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(bad),
    }
}

/// Version `version` of the item (the current one or a kept earlier one), in the same
/// shape as the current item; a version that is not kept is a 404.
fn render_version(
    conn: &mut DbConn,
    granted: &Granted,
    path: &ItemPath,
    version: i64,
) -> Result<Rendered> {
    granted.cache.check_app_name(&path.app_name)?;
    let item = CacheItem::find(
        conn,
        Scope::from(&granted.project),
        &path.app_name,
        &path.item_name,
    )?
    .ok_or_else(Error::not_found)?;
    let (app_name, name) = (item.app_name.clone(), item.name.clone());
    let v = crate::cache::history::version_data(conn, item, version)?
        .ok_or_else(|| Error::NotFound(format!("No version {version} of this item is kept")))?;
    let head = Head {
        project: granted.project.uuid.0,
        app_name: &app_name,
        name: &name,
        date_modified: granted.time_zone.render(v.date_modified),
        user: v.user.map(|u| u.0),
    };
    let data_sha256 = v.data.sha256_hex();
    assemble(&head, v.data.into_string(), &data_sha256)
}

/// The body `{head..., "data": <data>}` in three chunks, and its ETag.
fn assemble(head_fields: &Head<'_>, data: String, data_sha256: &str) -> Result<Rendered> {
    assemble_bytes(head_fields, Bytes::from(data), data_sha256)
}

/// [`assemble`] with the data as shared bytes.
fn assemble_bytes(head_fields: &Head<'_>, data: Bytes, data_sha256: &str) -> Result<Rendered> {
    let mut head = serde_json::to_string(head_fields)
        .map_err(|e| Error::Internal(format!("rendering an item: {e}")))?;
    // `{...}` → `{...,"data":` then the stored text, then `}`.
    head.pop();
    head.push_str(",\"data\":");
    let etag = etag(data_sha256, &head_fields.date_modified, head_fields.user);
    Ok(Rendered {
        chunks: JsonChunks::new([Bytes::from(head), data, Bytes::from_static(b"}")]),
        etag,
        written: None,
    })
}

/// The strong ETag of an item's representation at this URL: a SHA-256 over what can
/// change in it (the data, by its stored digest; the rendered write time, which carries
/// the site's time zone; the writer). The project, app and item names are the URL's.
fn etag(data_sha256: &str, date_modified: &str, user: Option<uuid::Uuid>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(data_sha256.as_bytes());
    hasher.update(date_modified.as_bytes());
    if let Some(user) = user {
        hasher.update(user.as_bytes());
    }
    let mut hex = [0u8; 64];
    // A 32-byte digest always fits 64 hex digits.
    let _ = hex::encode_to_slice(hasher.finalize(), &mut hex);
    let mut tag = String::with_capacity(66);
    tag.push('"');
    tag.extend(hex.iter().map(|&b| char::from(b)));
    tag.push('"');
    tag
}

/// `If-None-Match` lists this tag or is `*` (weak comparison, as RFC 9110 asks).
fn etag_matches(req: &HttpRequest, etag: &str) -> bool {
    let Some(value) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A body made of a few chunks, sent one after the other with a known length.
pub struct JsonChunks {
    chunks: VecDeque<Bytes>,
    len: u64,
}

impl JsonChunks {
    /// A body of these chunks, in order.
    pub fn new(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let chunks: VecDeque<Bytes> = chunks.into_iter().collect();
        let len = chunks.iter().map(|c| c.len() as u64).sum();
        JsonChunks { chunks, len }
    }
}

impl MessageBody for JsonChunks {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.len)
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(self.get_mut().chunks.pop_front().map(Ok))
    }
}
