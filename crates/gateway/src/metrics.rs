//! Prometheus metrics of the public listener: requests by route and status, and
//! latency histograms by route.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use storage::QueueDepth;

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    queue_pending: IntGaugeVec,
    queue_failed: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("latchkey".into()), None)
            .expect("the metrics prefix is valid");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("the request counter is well-formed");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route", "method"],
        )
        .expect("the latency histogram is well-formed");
        let queue_pending = IntGaugeVec::new(
            Opts::new(
                "queue_pending",
                "Work waiting in each queue (the outbox's unsent email, requests not yet handled).",
            ),
            &["queue"],
        )
        .expect("the queue gauge is well-formed");
        let queue_failed = IntGaugeVec::new(
            Opts::new(
                "queue_failed",
                "Work set aside in each queue for an operator (dead email, failed requests).",
            ),
            &["queue"],
        )
        .expect("the queue gauge is well-formed");
        for gauge in [&queue_pending, &queue_failed] {
            registry
                .register(Box::new(gauge.clone()))
                .expect("registered once");
        }
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(latency.clone()))
            .expect("registered once");
        Self {
            registry,
            requests,
            latency,
            queue_pending,
            queue_failed,
        }
    }

    /// Counts one answered request. `route` is the route's pattern (`/reset/:token`),
    /// never the concrete path, so tokens stay out of metrics and labels stay few.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    /// Records how full `queue` is.
    pub fn set_queue_depth(&self, queue: &str, depth: QueueDepth) {
        let gauge = |count: u64| i64::try_from(count).unwrap_or(i64::MAX);
        self.queue_pending
            .with_label_values(&[queue])
            .set(gauge(depth.pending));
        self.queue_failed
            .with_label_values(&[queue])
            .set(gauge(depth.failed));
    }

    /// The registry for other metrics (the outbox adds its own).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("the text encoder writes to memory");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
