//! `GET /retrieve/{project}/{app_name}/{item_name}`: an item with its data, in
//! upstream's key order. The stored JSON text goes out as it is, never re-parsed:
//! the body is three chunks (head, data, `}`), so a large item is held once.
//!
//! Beyond upstream: a strong `ETag` and `If-None-Match` → 304, so pollers stop
//! re-downloading unchanged items. The tag is a SHA-256 over the rendered head and the
//! data's stored SHA-256 (`cache_items.data_sha256`, computed by the write): a few
//! hundred bytes hashed per request, never the data itself.

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
use super::access::{Granted, Need, authorize_item};
use crate::auth::item_access::FullItem;
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
}

/// The handler.
pub async fn retrieve(
    req: HttpRequest,
    state: Data<AppState>,
    path: Path<ItemPath>,
) -> Result<HttpResponse> {
    let path = path.into_inner();
    let app_name = path.app_name.clone();
    let rendered = authorize_item(&req, &state, path, Need::Read, move |granted, item| {
        render(&granted, &app_name, item)
    })
    .await?;
    if etag_matches(&req, &rendered.etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, rendered.etag))
            .finish());
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::ETAG, rendered.etag))
        .body(rendered.chunks))
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
    let mut head = serde_json::to_string(&head)
        .map_err(|e| Error::Internal(format!("rendering an item: {e}")))?;
    // `{...}` → `{...,"data":` then the stored text, then `}`.
    head.pop();
    head.push_str(",\"data\":");
    let data_sha256 = item.data_sha256.unwrap_or_else(|| item.data.sha256_hex());
    let data = item.data.into_string();
    let mut hasher = Sha256::new();
    hasher.update(head.as_bytes());
    hasher.update(data_sha256.as_bytes());
    let etag = format!("\"{}\"", hex::encode(hasher.finalize()));
    Ok(Rendered {
        chunks: JsonChunks::new([
            Bytes::from(head),
            Bytes::from(data),
            Bytes::from_static(b"}"),
        ]),
        etag,
    })
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
