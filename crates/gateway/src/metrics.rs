//! Prometheus metrics of the public listener: requests by route and status, and
//! latency histograms by route; the queues' depth and age; the hashing pool's load.

use identity::HashingLoad;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use storage::QueueDepth;

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    queue_pending: IntGaugeVec,
    queue_failed: IntGaugeVec,
    queue_oldest: IntGaugeVec,
    hashing_waiting: IntGauge,
    hashing_busy: IntGauge,
    hashing_threads: IntGauge,
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
        let queue_oldest = IntGaugeVec::new(
            Opts::new(
                "queue_oldest_age_seconds",
                "Seconds the oldest work still waiting in each queue has waited (0 when none waits).",
            ),
            &["queue"],
        )
        .expect("the queue gauge is well-formed");
        for gauge in [&queue_pending, &queue_failed, &queue_oldest] {
            registry
                .register(Box::new(gauge.clone()))
                .expect("registered once");
        }
        let hashing_gauge = |name: &str, help: &str| {
            let gauge = IntGauge::new(name, help).expect("the hashing gauge is well-formed");
            registry
                .register(Box::new(gauge.clone()))
                .expect("registered once");
            gauge
        };
        let hashing_waiting = hashing_gauge(
            "password_hashing_waiting",
            "Password hashes waiting for a hashing thread.",
        );
        let hashing_busy = hashing_gauge(
            "password_hashing_busy",
            "Hashing threads hashing a password now.",
        );
        let hashing_threads = hashing_gauge(
            "password_hashing_threads",
            "Hashing threads in this process (password.hash_concurrency).",
        );
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
            queue_oldest,
            hashing_waiting,
            hashing_busy,
            hashing_threads,
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

    /// Records how long the oldest work waiting in `queue` has waited.
    pub fn set_queue_oldest_age(&self, queue: &str, seconds: i64) {
        self.queue_oldest
            .with_label_values(&[queue])
            .set(seconds.max(0));
    }

    /// Records how busy this process's hashing pool is.
    pub fn set_hashing_load(&self, load: HashingLoad) {
        let gauge = |count: usize| i64::try_from(count).unwrap_or(i64::MAX);
        self.hashing_waiting.set(gauge(load.waiting));
        self.hashing_busy.set(gauge(load.busy));
        self.hashing_threads.set(gauge(load.threads));
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
