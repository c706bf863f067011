//! Database work off the async threads, with every wait bounded.
//!
//! A request's database work runs on a blocking thread. libpq cannot be told to give up
//! on a statement whose answer never comes (a black-holed network keeps TCP alive
//! until `tcp_user_timeout` or the keepalives notice), so the async side stops waiting
//! instead and the request answers 503 in time:
//!
//! 1. a connection (a pool slot, and on PostgreSQL the check of a connection that sat
//!    idle) within the database timeout plus [`MARGIN`];
//! 2. then the unit of work within the timeout plus [`MARGIN`] again: on a black-holed
//!    network the first statement never answers, so requests answer 503 within
//!    `SODARCACHE_DB_TIMEOUT_SECONDS` + 1 s of getting their connection. (Each
//!    PostgreSQL statement is also cut at the timeout by the server's
//!    `statement_timeout`, so healthy work fits.)
//!
//! A unit of work abandoned this way still runs to its end on its thread (and its
//! connection comes back, or is dropped as broken); the client was told 503, which
//! never claims that a write did not happen.

use std::time::Duration;

use super::{DbConn, DbPool};
use crate::{Error, Result};

/// Slack on top of the database timeout, for each phase.
pub const MARGIN: Duration = Duration::from_secs(1);

/// The error of a wait that ran out.
fn timed_out() -> Error {
    Error::Unavailable("Database unavailable".into())
}

/// Runs `f` with a pooled connection on a blocking thread, waiting at most `wait` +
/// [`MARGIN`] for the connection and as long again for `f`.
pub async fn with_conn<T, F>(pool: &DbPool, wait: Duration, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T> + Send + 'static,
{
    let (connected, mut got_conn) = tokio::sync::oneshot::channel::<()>();
    let pool = pool.clone();
    // The request's span (its request id) goes along, so log lines written while the
    // work runs name the request.
    let span = tracing::Span::current();
    let mut task = tokio::task::spawn_blocking(move || {
        let _in_request = span.enter();
        let mut conn = pool.get()?;
        let _ = connected.send(());
        f(&mut conn)
    });
    let first = tokio::time::timeout(wait + MARGIN, async {
        tokio::select! {
            done = &mut task => Some(done),
            _ = &mut got_conn => None,
        }
    })
    .await
    .map_err(|_| timed_out())?;
    let done = match first {
        Some(done) => done,
        None => tokio::time::timeout(wait + MARGIN, &mut task)
            .await
            .map_err(|_| timed_out())?,
    };
    done.map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?
}

/// Runs `f` (which takes its own connections) on a blocking thread, waiting at most
/// as long as [`with_conn`] would in total.
pub async fn run<T, F>(wait: Duration, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let limit = (wait + MARGIN) * 2;
    let span = tracing::Span::current();
    let task = tokio::task::spawn_blocking(move || {
        let _in_request = span.enter();
        f()
    });
    tokio::time::timeout(limit, task)
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?
}
