//! Prometheus metrics: `GET /metrics` in the Prometheus text format (0.0.4).
//!
//! Off unless `SODARCACHE_METRICS_TOKEN` (then `Authorization: Bearer <token>`) or
//! `SODARCACHE_METRICS_BIND` (a separate address serving only `/metrics`) is set.
//!
//! What this process observes (HTTP requests, the jobs its worker ran, plugin failures,
//! waits for a pooled connection) lives in one process-wide [`Metrics`], like a log
//! sink: the request middleware, the pool's event handler and the worker record into
//! it without being handed anything. What the database knows (items and bytes per app,
//! jobs per status) is read at scrape time, so every instance reports the same totals.

mod http;
mod scrape;

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use http::record_requests;
pub use scrape::{metrics as serve_metrics, routes};

use crate::cache::runner::PluginOutcome;
use crate::db::models::SyncJob;

/// Request latency buckets, in seconds: half a millisecond to ten seconds.
const HTTP_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Sync job duration buckets, in seconds: a tenth of a second to an hour.
const JOB_BUCKETS: [f64; 12] = [
    0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];
/// Buckets of the wait for a pooled connection, in seconds.
const POOL_BUCKETS: [f64; 10] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Labels of an HTTP request: the route's pattern (not the path, so the label set
/// stays small), the method and the status code.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// Labels of a finished sync job.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    status: &'static str,
    origin: &'static str,
}

/// Labels of a plugin failure: `reason` is `timeout` or `error`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
    reason: &'static str,
}

/// What this process observed.
pub struct Metrics {
    registry: Registry,
    http: HistogramFamily<HttpLabels>,
    jobs: HistogramFamily<JobLabels>,
    plugin_failures: Family<PluginLabels, Counter>,
    pool_wait: Histogram,
    pool_timeouts: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Self {
        let http: HistogramFamily<HttpLabels> =
            Family::new_with_constructor(|| Histogram::new(HTTP_BUCKETS));
        let jobs: HistogramFamily<JobLabels> =
            Family::new_with_constructor(|| Histogram::new(JOB_BUCKETS));
        let plugin_failures = Family::<PluginLabels, Counter>::default();
        let pool_wait = Histogram::new(POOL_BUCKETS);
        let pool_timeouts = Counter::default();
        let mut registry = Registry::default();
        registry.register(
            "sodarcache_http_request_duration_seconds",
            "HTTP requests by route pattern, method and status, and how long the handler took",
            http.clone(),
        );
        registry.register(
            "sodarcache_sync_job_duration_seconds",
            "Sync jobs this instance's worker finished, by final status and origin",
            jobs.clone(),
        );
        registry.register(
            "sodarcache_plugin_failures",
            "Plugins that failed in a sync job this instance ran (reason: error or timeout)",
            plugin_failures.clone(),
        );
        registry.register(
            "sodarcache_db_pool_wait_seconds",
            "How long checking out a pooled database connection took",
            pool_wait.clone(),
        );
        registry.register(
            "sodarcache_db_pool_timeouts",
            "Checkouts that gave up waiting for a pooled connection (answered 503)",
            pool_timeouts.clone(),
        );
        Metrics {
            registry,
            http,
            jobs,
            plugin_failures,
            pool_wait,
            pool_timeouts,
        }
    }

    /// Counts one HTTP request.
    fn observe_request(&self, route: String, method: &'static str, status: u16, took: Duration) {
        self.http
            .get_or_create(&HttpLabels {
                route,
                method,
                status,
            })
            .observe(took.as_secs_f64());
    }

    /// Records a job this process ran to the end, and its failed plugins.
    pub fn observe_job(&self, job: &SyncJob, outcomes: &[PluginOutcome]) {
        let took = job
            .duration()
            .and_then(|d| d.to_std().ok())
            .unwrap_or_default();
        self.jobs
            .get_or_create(&JobLabels {
                status: job.status.as_str(),
                origin: job.origin.as_str(),
            })
            .observe(took.as_secs_f64());
        for outcome in outcomes.iter().filter(|o| !o.ok()) {
            let reason = if outcome.timed_out() {
                "timeout"
            } else if outcome.error.as_deref() == Some(crate::cache::runner::CANCELLED) {
                "cancelled"
            } else {
                "error"
            };
            self.plugin_failures
                .get_or_create(&PluginLabels {
                    plugin: outcome.plugin.clone(),
                    reason,
                })
                .inc();
        }
    }

    /// Appends this process's metrics in the text format.
    fn encode(&self, out: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::prometheus_text::encode(out, &self.registry)
    }
}

/// The pool's event handler: checkout waits and time-outs go into [`global`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PoolEvents;

impl diesel::r2d2::HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: diesel::r2d2::event::CheckoutEvent) {
        global().pool_wait.observe(event.duration().as_secs_f64());
    }

    fn handle_timeout(&self, _event: diesel::r2d2::event::TimeoutEvent) {
        global().pool_timeouts.inc();
    }
}
