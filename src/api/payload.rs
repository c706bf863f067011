//! Reading `set`'s body: `{"data": <any JSON>}` (kept as the client's text, never
//! re-encoded) or a form with `data=<string>`, form-encoded or `multipart/form-data`
//! (stored as a JSON string, as upstream).
//!
//! The body is read after authorization, with the size limit applied while reading
//! (compressed bodies included): over the limit is a 413, never a 500.

use std::borrow::Cow;
use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_core::Stream;
use serde_json::value::RawValue;

use super::body_budget::{BodyBudget, BodyPermit};
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

/// Reads the whole body, at most `limit` bytes, into one buffer of its declared size
/// (no doubling as it grows), under a reservation of the process's [`BodyBudget`] that
/// the caller keeps until the body is written.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    budget: &BodyBudget,
) -> Result<(Vec<u8>, BodyPermit), Error> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let declared = declared.map_or(0, |n| n as usize);
    let mut permit = budget.reserve(declared)?;
    let mut body = Vec::with_capacity(declared);
    while let Some(chunk) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut payload).poll_next(cx)).await
    {
        let chunk = chunk
            .map_err(|e| Error::BadRequest(format!("Could not read the request body: {e}")))?;
        let len = body.len() + chunk.len();
        if len > limit {
            return Err(too_large(limit));
        }
        // A chunked or compressed body reserves as it grows.
        permit.grow_to(len)?;
        body.extend_from_slice(&chunk);
    }
    Ok((body, permit))
}

/// The `data` of a `set` body, by the request's content type (none: JSON).
pub fn parse_data(req: &HttpRequest, body: Vec<u8>) -> Result<JsonText, BodyError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("invalid"))
        .unwrap_or("");
    let kind = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if kind.is_empty() || kind == "application/json" || kind.ends_with("+json") {
        Ok(from_json(body)?)
    } else if kind == "application/x-www-form-urlencoded" {
        Ok(from_form(body)?)
    } else if kind == "multipart/form-data" {
        Ok(from_multipart(content_type, &body)?)
    } else {
        Err(BodyError::Unsupported(kind))
    }
}

fn missing() -> Error {
    Error::BadRequest("The field \"data\" is required.".into())
}

/// `data`'s text (serde validated it as JSON), kept in the body's own buffer (moved to
/// its start and cut to its length): a large write holds its data once, not once as the
/// body and once more as the data.
fn from_json(mut body: Vec<u8>) -> Result<JsonText, Error> {
    let (start, len) = {
        let fields: HashMap<String, &RawValue> = serde_json::from_slice(&body)
            .map_err(|e| Error::BadRequest(format!("JSON parse error - {e}")))?;
        let raw = fields.get("data").ok_or_else(missing)?.get();
        (raw.as_ptr() as usize - body.as_ptr() as usize, raw.len())
    };
    body.truncate(start + len);
    body.drain(..start);
    let text = String::from_utf8(body)
        .map_err(|_| Error::BadRequest("JSON parse error - invalid UTF-8".into()))?;
    Ok(JsonText::from_trusted(text))
}

/// `data` of a form body, as a JSON string. The body is given up as soon as `data` is
/// decoded (or, without escapes, cut out of it in place), so a large form holds its data
/// at most twice: as decoded text and as the JSON string built from it.
fn from_form(mut body: Vec<u8>) -> Result<JsonText, Error> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| Error::BadRequest("Form data is not valid UTF-8.".into()))?;
    // Decoded strictly: `%FF` is a 400, never silently U+FFFD.
    let mut value = None;
    let mut at = 0;
    for pair in text.split('&') {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        if !pair.is_empty() && crate::names::decode(key, true)? == "data" {
            let start = at + (pair.len() - raw.len());
            value = Some(start..start + raw.len());
        }
        at += pair.len() + 1;
    }
    let range = value.ok_or_else(missing)?;
    let decoded = match crate::names::decode(&text[range.clone()], true)? {
        Cow::Owned(decoded) => Some(decoded),
        Cow::Borrowed(_) => None,
    };
    let decoded = match decoded {
        Some(decoded) => {
            drop(body);
            decoded
        }
        None => {
            body.truncate(range.end);
            body.drain(..range.start);
            String::from_utf8(body).map_err(|_| missing())?
        }
    };
    Ok(json_string(&decoded))
}

/// `text` as a JSON string, built in one buffer of its final size (a growing buffer
/// would hold the old and the new allocation at once while it doubles).
fn json_string(text: &str) -> JsonText {
    let escapes: usize = text
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' => 1,
            0..0x20 => 5,
            _ => 0,
        })
        .sum();
    let mut out = Vec::with_capacity(text.len() + escapes + 2);
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, text);
    // serde_json writes UTF-8.
    JsonText::from_trusted(String::from_utf8(out).unwrap_or_default())
}

/// The `data` field of a `multipart/form-data` body (`curl -F data=...`, or a file part
/// named `data` as Python's `requests` sends with `files=`): its text, stored as a JSON
/// string like a form-encoded `data`. The whole body is already in memory (and under the
/// size limit), so the parts are found by splitting on the boundary.
fn from_multipart(content_type: &str, body: &[u8]) -> Result<JsonText, Error> {
    let bad = |what: &str| Error::BadRequest(format!("Multipart form parse error - {what}"));
    let boundary = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .filter(|b| !b.is_empty() && b.len() <= 200)
        .ok_or_else(|| bad("missing boundary"))?;
    let delimiter = format!("--{boundary}");
    let mut rest = body;
    // Everything before the first delimiter is preamble.
    let start = find(rest, delimiter.as_bytes()).ok_or_else(|| bad("no parts"))?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Err(missing());
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or_else(|| bad("malformed part"))?;
        let end = find(rest, format!("\r\n{delimiter}").as_bytes())
            .ok_or_else(|| bad("unterminated part"))?;
        let part = &rest[..end];
        rest = &rest[end + 2 + delimiter.len()..];
        let split = find(part, b"\r\n\r\n").ok_or_else(|| bad("part without headers"))?;
        let (headers, content) = (&part[..split], &part[split + 4..]);
        let headers = std::str::from_utf8(headers).map_err(|_| bad("part headers"))?;
        if part_name(headers).as_deref() == Some("data") {
            let text = std::str::from_utf8(content)
                .map_err(|_| Error::BadRequest("Form data is not valid UTF-8.".into()))?;
            return Ok(json_string(text));
        }
    }
}

/// The `name` of a part, from its `Content-Disposition: form-data; name="..."` header.
fn part_name(headers: &str) -> Option<String> {
    let disposition = headers.split("\r\n").find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(value)
    })?;
    disposition.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("name")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_data_keeps_the_clients_text() {
        let d = from_json(br#"{"data": {"b": 1,  "a": [1, 2]}}"#.to_vec()).unwrap();
        assert_eq!(d.as_str(), r#"{"b": 1,  "a": [1, 2]}"#);
    }

    #[test]
    fn missing_or_malformed_data_is_a_bad_request() {
        assert!(matches!(
            from_json(b"{}".to_vec()),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            from_json(b"[1]".to_vec()),
            Err(Error::BadRequest(_))
        ));
        assert!(matches!(
            from_json(b"{\"data\": ".to_vec()),
            Err(Error::BadRequest(_))
        ));
    }

    #[test]
    fn multipart_data_field_or_file_part_is_stored_as_a_json_string() {
        let ct = "multipart/form-data; boundary=XyZ";
        let field = b"--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{\"a\": 1}\r\n--XyZ--\r\n";
        assert_eq!(
            from_multipart(ct, field).unwrap().as_str(),
            r#""{\"a\": 1}""#
        );
        let file = b"--XyZ\r\nContent-Disposition: form-data; name=\"data\"; filename=\"data\"\r\n\
Content-Type: application/octet-stream\r\n\r\nline 1\r\nline 2\r\n--XyZ--\r\n";
        assert_eq!(
            from_multipart(ct, file).unwrap().as_str(),
            r#""line 1\r\nline 2""#
        );
        let none = b"--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--XyZ--\r\n";
        assert!(matches!(
            from_multipart(ct, none),
            Err(Error::BadRequest(_))
        ));
        for bad in [&b"garbage"[..], b"--XyZ\r\nno end", b""] {
            assert!(matches!(from_multipart(ct, bad), Err(Error::BadRequest(_))));
        }
        assert!(matches!(
            from_multipart("multipart/form-data", field),
            Err(Error::BadRequest(_))
        ));
    }

    #[test]
    fn form_escapes_that_are_not_utf8_are_refused() {
        assert!(matches!(
            from_form(b"data=%FF".to_vec()),
            Err(Error::BadRequest(_))
        ));
        assert_eq!(
            from_form(b"data=caf%C3%A9".to_vec()).unwrap().as_str(),
            r#""café""#
        );
    }

    #[test]
    fn json_strings_are_built_at_their_final_size() {
        for text in ["", "plain", "a\"b\\c\nd\u{1}e", "caf\u{e9} \u{2028}"] {
            let json = json_string(text);
            assert_eq!(serde_json::from_str::<String>(json.as_str()).unwrap(), text);
        }
    }

    #[test]
    fn form_data_is_stored_as_a_json_string() {
        let d = from_form(b"data=%7B%22a%22%3A+1%7D".to_vec()).unwrap();
        assert_eq!(d.as_str(), r#""{\"a\": 1}""#);
    }
}
