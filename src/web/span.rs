//! The root span of a request (tracing-actix-web's, with its fields), made only when
//! some subscriber will see it.
//!
//! Building the default span asks actix for the matched route pattern, which matches
//! the path against the route table a second time, and reads the connection info and
//! the user agent: most of a cached retrieve's work on the event loop. Under
//! `RUST_LOG=warn` (or anything below `info`) no layer records the span, so none is made.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing::level_filters::LevelFilter;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// [`DefaultRootSpanBuilder`] when `info` spans are on, no span otherwise.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        if LevelFilter::current() < LevelFilter::INFO {
            return Span::none();
        }
        DefaultRootSpanBuilder::on_request_start(request)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if !span.is_none() {
            DefaultRootSpanBuilder::on_request_end(span, outcome);
        }
    }
}
