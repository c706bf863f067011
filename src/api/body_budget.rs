//! The bound on request bodies in memory: `SODARCACHE_MAX_BODY_BYTES_IN_FLIGHT` bytes,
//! summed over every request of this process that is reading or writing a body.
//!
//! A request reserves its declared `Content-Length` before it reads a byte (a chunked
//! or compressed body reserves as its bytes arrive) and keeps the reservation until its
//! write is done, since the body is in memory all that time. A request that would go
//! over the bound is refused at once with 503 and `Retry-After` ([`Error::Busy`]),
//! never queued: a queue of bodies would be memory too. So no number of writers, fast
//! or slow, can make the server hold more than the bound in bodies (each write costs
//! about twice its body while the database stores it, see the README). `/metrics`
//! shows the bytes reserved (`sodarcache_request_body_bytes_in_flight`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Error;

/// The process's budget (shared by all requests).
#[derive(Debug, Clone)]
pub struct BodyBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limit: usize,
    used: AtomicUsize,
}

/// Bytes reserved by one request; given back when dropped.
#[derive(Debug)]
pub struct BodyPermit {
    inner: Arc<Inner>,
    held: usize,
}

/// The 503 a request gets when the budget is spent.
fn busy() -> Error {
    Error::Busy(
        "The server is holding as many request bodies as it may at once, try again in a moment."
            .into(),
    )
}

impl BodyBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        BodyBudget {
            inner: Arc::new(Inner {
                limit,
                used: AtomicUsize::new(0),
            }),
        }
    }

    /// The limit, in bytes.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// Bytes reserved right now, by all requests.
    pub fn in_flight(&self) -> usize {
        self.inner.used.load(Ordering::Acquire)
    }

    /// Reserves `bytes`, or fails with a 503 when that would go over the limit.
    pub fn reserve(&self, bytes: usize) -> Result<BodyPermit, Error> {
        let mut permit = BodyPermit {
            inner: self.inner.clone(),
            held: 0,
        };
        permit.grow_to(bytes)?;
        Ok(permit)
    }
}

impl BodyPermit {
    /// Bytes this permit holds.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Holds at least `bytes` (more than now: reserves the difference), or fails with
    /// a 503 and keeps what it held.
    pub fn grow_to(&mut self, bytes: usize) -> Result<(), Error> {
        let Some(more) = bytes.checked_sub(self.held).filter(|&m| m > 0) else {
            return Ok(());
        };
        let limit = self.inner.limit;
        self.inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(more).filter(|&total| total <= limit)
            })
            .map_err(|_| busy())?;
        self.held = bytes;
        Ok(())
    }
}

impl Drop for BodyPermit {
    fn drop(&mut self) {
        self.inner.used.fetch_sub(self.held, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_add_up_to_the_limit_and_are_given_back() {
        let budget = BodyBudget::new(100);
        let a = budget.reserve(60).unwrap();
        let mut b = budget.reserve(40).unwrap();
        assert_eq!(budget.in_flight(), 100);
        assert!(matches!(budget.reserve(1), Err(Error::Busy(_))));
        assert!(b.grow_to(41).is_err());
        assert_eq!(b.held(), 40);
        drop(a);
        assert_eq!(budget.in_flight(), 40);
        b.grow_to(100).unwrap();
        assert_eq!(budget.in_flight(), 100);
        drop(b);
        assert_eq!(budget.in_flight(), 0);
        assert!(budget.reserve(101).is_err());
        assert_eq!(budget.in_flight(), 0);
    }
}
