//! The middleware around every API route: negotiates the media type first (406 before
//! anything else), then makes every response speak the API's dialect: JSON bodies carry
//! the versioned vendor media type, errors that some layer rendered without a JSON body
//! (unknown path, wrong method, ...) become `{"detail": ...}`, and a 401 carries
//! `WWW-Authenticate` challenges for `Basic` and `Token`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};

use super::media::{ApiVersion, negotiate};

/// Path suffix of the OpenAPI document, which is plain JSON and needs no negotiation.
pub const OPENAPI_SUFFIX: &str = "/openapi.json";

/// The middleware function (use with `actix_web::middleware::from_fn`).
pub async fn envelope(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let exempt = req.path().ends_with(OPENAPI_SUFFIX);
    let version = if exempt {
        ApiVersion::DEFAULT
    } else {
        // Several `Accept` headers mean the same as one with the values comma-joined.
        let accept: Result<Vec<&str>, _> = req
            .headers()
            .get_all(header::ACCEPT)
            .map(|v| v.to_str())
            .collect();
        let negotiated = match accept {
            Ok(values) if values.is_empty() => negotiate(None),
            Ok(values) => negotiate(Some(&values.join(","))),
            Err(_) => Err(super::media::NotAcceptable::MediaType),
        };
        match negotiated {
            Ok(v) => v,
            Err(e) => {
                let res = detail_response(StatusCode::NOT_ACCEPTABLE, e.detail());
                return Ok(finish(req.into_response(res), ApiVersion::DEFAULT, false));
            }
        }
    };
    req.extensions_mut().insert(version);
    if let Err(e) = crate::names::check_url(req.uri().path(), req.uri().query().unwrap_or("")) {
        let res = detail_response(e.status(), &e.public_message());
        return Ok(finish(req.into_response(res), version, exempt));
    }
    let method = req.method().clone();
    // Handlers' and extractors' errors arrive here as responses; an `Err` can only come
    // from a service that failed outright, and the server renders it as it is. (The
    // request cannot be cloned to build a response here: routing needs it unshared.)
    let res = next.call(req).await?.map_into_boxed_body();
    let res = if needs_json_body(&res) {
        let detail = default_detail(res.status(), &method);
        let status = res.status();
        res.into_response(detail_response(status, &detail))
    } else {
        res
    };
    Ok(finish(res, version, exempt))
}

/// An error response in the API's shape.
pub fn detail_response(status: StatusCode, detail: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(header::ContentType::json())
        .body(crate::error::detail_json(detail))
}

fn is_json(res: &ServiceResponse<BoxBody>) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn needs_json_body(res: &ServiceResponse<BoxBody>) -> bool {
    let status = res.status();
    (status.is_client_error() || status.is_server_error()) && !is_json(res)
}

fn default_detail(status: StatusCode, method: &Method) -> String {
    match status {
        StatusCode::NOT_FOUND => "Not found.".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => format!("Method \"{method}\" not allowed."),
        StatusCode::PAYLOAD_TOO_LARGE => "Request body is too large.".to_owned(),
        s if s.is_server_error() => crate::Error::Internal(String::new()).public_message(),
        s => s.canonical_reason().unwrap_or("Bad request.").to_owned(),
    }
}

fn finish(
    mut res: ServiceResponse<BoxBody>,
    version: ApiVersion,
    exempt: bool,
) -> ServiceResponse<BoxBody> {
    if !exempt && is_json(&res) {
        res.headers_mut()
            .insert(header::CONTENT_TYPE, version.content_type());
    }
    if res.status() == StatusCode::UNAUTHORIZED {
        // Both schemes the API takes, Basic first as SODAR lists them (DRF names only
        // its first class's).
        let headers = res.headers_mut();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"api\", charset=\"UTF-8\""),
        );
        headers.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
    }
    res
}
