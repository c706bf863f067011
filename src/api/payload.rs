//! Reading `set`'s body: `{"data": <any JSON>}` (kept as the client's text, never
//! re-encoded) or a form with `data=<string>` (stored as a JSON string, as upstream).
//!
//! The body is read after authorization, with the size limit applied while reading
//! (compressed bodies included): over the limit is a 413, never a 500.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use serde_json::value::RawValue;

use super::envelope::detail_response;
use crate::Error;
use crate::db::JsonText;

/// Why the body was refused.
#[derive(Debug)]
pub enum BodyError {
    /// 400 or 413, as an [`Error`].
    Api(Error),
    /// 415: a content type we do not parse.
    Unsupported(String),
}

impl From<Error> for BodyError {
    fn from(e: Error) -> Self {
        BodyError::Api(e)
    }
}

impl From<BodyError> for actix_web::Error {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Api(e) => e.into(),
            BodyError::Unsupported(kind) => actix_web::error::InternalError::from_response(
                "unsupported media type",
                detail_response(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    &format!("Unsupported media type \"{kind}\" in request."),
                ),
            )
            .into(),
        }
    }
}

fn too_large(limit: usize) -> Error {
    Error::PayloadTooLarge(format!(
        "Request body is larger than the limit of {limit} bytes."
    ))
}

/// Reads the whole body, at most `limit` bytes.
pub async fn read_limited(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, Error> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match payload.to_bytes_limited(limit).await {
        Err(_) => Err(too_large(limit)),
        Ok(Err(e)) => Err(Error::BadRequest(format!(
            "Could not read the request body: {e}"
        ))),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// The `data` of a `set` body, by the request's content type (none: JSON).
pub fn parse_data(req: &HttpRequest, body: &[u8]) -> Result<JsonText, BodyError> {
    let kind = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("invalid"))
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if kind.is_empty() || kind == "application/json" || kind.ends_with("+json") {
        Ok(from_json(body)?)
    } else if kind == "application/x-www-form-urlencoded" {
        Ok(from_form(body)?)
    } else {
        Err(BodyError::Unsupported(kind))
    }
}

fn missing() -> Error {
    Error::BadRequest("The field \"data\" is required.".into())
}

fn from_json(body: &[u8]) -> Result<JsonText, Error> {
    let fields: HashMap<String, &RawValue> = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("JSON parse error - {e}")))?;
    let raw = fields.get("data").ok_or_else(missing)?;
    Ok(JsonText::from_raw(raw))
}

fn from_form(body: &[u8]) -> Result<JsonText, Error> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::BadRequest("Form data is not valid UTF-8.".into()))?;
    let fields = web::Query::<HashMap<String, String>>::from_query(text)
        .map_err(|e| Error::BadRequest(format!("Form parse error - {e}")))?;
    let data = fields.get("data").ok_or_else(missing)?;
    Ok(JsonText::from_value(&serde_json::Value::String(
        data.clone(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_data_keeps_the_clients_text() {
        let d = from_json(br#"{"data": {"b": 1,  "a": [1, 2]}}"#).unwrap();
        assert_eq!(d.as_str(), r#"{"b": 1,  "a": [1, 2]}"#);
    }

    #[test]
    fn missing_or_malformed_data_is_a_bad_request() {
        assert!(matches!(from_json(b"{}"), Err(Error::BadRequest(_))));
        assert!(matches!(from_json(b"[1]"), Err(Error::BadRequest(_))));
        assert!(matches!(
            from_json(b"{\"data\": "),
            Err(Error::BadRequest(_))
        ));
    }

    #[test]
    fn form_data_is_stored_as_a_json_string() {
        let d = from_form(b"data=%7B%22a%22%3A+1%7D").unwrap();
        assert_eq!(d.as_str(), r#""{\"a\": 1}""#);
    }
}
