//! Content negotiation: the versioned vendor media type, as upstream's
//! `AcceptHeaderVersioning` with a single JSON renderer does it.
//!
//! An `Accept` entry matches when it names the vendor type, `application/*` or `*/*`;
//! entries are tried most specific first (DRF ignores `q`, and so do we, except that
//! `q=0` means "not this one"). The matching entry's `version` parameter picks the
//! version; none means [`ApiVersion::DEFAULT`]. Upstream accepted only 1.0 while its
//! docs said 2.0: both are accepted here, with the same payloads.

use actix_web::http::header::HeaderValue;

/// The vendor media type of every response body of the API.
pub const MEDIA_TYPE: &str = "application/vnd.bihealth.sodar-core.sodarcache+json";

/// A supported API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `1.0`, what upstream's code accepts.
    V1_0,
    /// `2.0`, what upstream's docs call current; the default here.
    V2_0,
}

impl ApiVersion {
    /// The version used when the client names none.
    pub const DEFAULT: ApiVersion = ApiVersion::V2_0;

    /// Parses `1.0` or `2.0`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "1.0" => Some(ApiVersion::V1_0),
            "2.0" => Some(ApiVersion::V2_0),
            _ => None,
        }
    }

    /// The version as written in the media type.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1_0 => "1.0",
            ApiVersion::V2_0 => "2.0",
        }
    }

    /// `Content-Type` of responses in this version.
    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            ApiVersion::V1_0 => "application/vnd.bihealth.sodar-core.sodarcache+json; version=1.0",
            ApiVersion::V2_0 => "application/vnd.bihealth.sodar-core.sodarcache+json; version=2.0",
        })
    }
}

/// Why negotiation failed (both are 406, with DRF's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAcceptable {
    /// No `Accept` entry matches the vendor type.
    MediaType,
    /// The matching entry names a version we do not serve.
    Version,
}

impl NotAcceptable {
    /// The `detail` text.
    pub fn detail(self) -> &'static str {
        match self {
            NotAcceptable::MediaType => "Could not satisfy the request Accept header.",
            NotAcceptable::Version => "Invalid version in \"Accept\" header.",
        }
    }
}

struct Entry<'a> {
    kind: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

impl Entry<'_> {
    /// DRF's precedence: a full type with parameters, a full type, `type/*`, `*/*`.
    fn precedence(&self) -> u8 {
        let (main, sub) = self.kind.split_once('/').unwrap_or((self.kind, ""));
        match (main, sub) {
            ("*", _) => 0,
            (_, "*") => 1,
            _ if self.params.iter().any(|(k, _)| *k != "q") => 3,
            _ => 2,
        }
    }

    fn matches(&self) -> bool {
        let kind = self.kind.to_ascii_lowercase();
        kind == MEDIA_TYPE || kind == "application/*" || kind == "*/*"
    }

    fn refused(&self) -> bool {
        self.param("q")
            .and_then(|q| q.parse::<f32>().ok())
            .is_some_and(|q| q <= 0.0)
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

fn parse_entry(raw: &str) -> Option<Entry<'_>> {
    let mut parts = raw.split(';');
    let kind = parts.next()?.trim();
    if kind.is_empty() {
        return None;
    }
    let params = parts
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
        .collect();
    Some(Entry { kind, params })
}

/// Picks the version for an `Accept` header value (`None`: no header, the default).
pub fn negotiate(accept: Option<&str>) -> Result<ApiVersion, NotAcceptable> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Ok(ApiVersion::DEFAULT);
    };
    let mut entries: Vec<Entry<'_>> = accept.split(',').filter_map(parse_entry).collect();
    // Stable: entries of equal precedence keep the client's order.
    entries.sort_by_key(|e| std::cmp::Reverse(e.precedence()));
    let entry = entries
        .iter()
        .find(|e| e.matches() && !e.refused())
        .ok_or(NotAcceptable::MediaType)?;
    match entry.param("version") {
        None => Ok(ApiVersion::DEFAULT),
        Some(v) => ApiVersion::parse(v).ok_or(NotAcceptable::Version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_header_or_wildcards_get_the_default() {
        assert_eq!(negotiate(None), Ok(ApiVersion::V2_0));
        assert_eq!(negotiate(Some("")), Ok(ApiVersion::V2_0));
        assert_eq!(negotiate(Some("*/*")), Ok(ApiVersion::V2_0));
        assert_eq!(negotiate(Some("application/*")), Ok(ApiVersion::V2_0));
        assert_eq!(negotiate(Some(MEDIA_TYPE)), Ok(ApiVersion::V2_0));
    }

    #[test]
    fn both_versions_are_accepted() {
        let v1 = format!("{MEDIA_TYPE}; version=1.0");
        let v2 = format!("{MEDIA_TYPE};version=\"2.0\"");
        assert_eq!(negotiate(Some(&v1)), Ok(ApiVersion::V1_0));
        assert_eq!(negotiate(Some(&v2)), Ok(ApiVersion::V2_0));
    }

    #[test]
    fn other_versions_and_types_are_not_acceptable() {
        let v3 = format!("{MEDIA_TYPE}; version=3.0");
        assert_eq!(negotiate(Some(&v3)), Err(NotAcceptable::Version));
        assert_eq!(
            negotiate(Some("application/json")),
            Err(NotAcceptable::MediaType)
        );
        assert_eq!(negotiate(Some("text/html")), Err(NotAcceptable::MediaType));
        let refused = format!("{MEDIA_TYPE}; q=0");
        assert_eq!(negotiate(Some(&refused)), Err(NotAcceptable::MediaType));
    }

    #[test]
    fn the_most_specific_entry_wins() {
        let accept = format!("*/*, {MEDIA_TYPE}; version=1.0, text/html");
        assert_eq!(negotiate(Some(&accept)), Ok(ApiVersion::V1_0));
    }
}
