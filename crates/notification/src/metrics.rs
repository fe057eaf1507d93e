//! Prometheus metrics of email delivery, registered on the registry the gateway
//! serves at `/metrics`.

use std::collections::BTreeMap;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::{EmailKind, OutboxStatus};

/// Counters by kind, the outbox depth by status, and the time from enqueue to
/// delivery. Clones share the same series.
#[derive(Debug, Clone)]
pub struct DeliveryMetrics {
    queued: IntCounterVec,
    sent: IntCounterVec,
    retried: IntCounterVec,
    dead: IntCounterVec,
    depth: IntGaugeVec,
    delivery_seconds: HistogramVec,
}

impl DeliveryMetrics {
    /// Creates the series and registers them on `registry`; registering twice on
    /// one registry is an error.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let metrics = Self::build()?;
        registry.register(Box::new(metrics.queued.clone()))?;
        registry.register(Box::new(metrics.sent.clone()))?;
        registry.register(Box::new(metrics.retried.clone()))?;
        registry.register(Box::new(metrics.dead.clone()))?;
        registry.register(Box::new(metrics.depth.clone()))?;
        registry.register(Box::new(metrics.delivery_seconds.clone()))?;
        Ok(metrics)
    }

    fn build() -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &["kind"]);
        let metrics = Self {
            queued: counter(
                "email_queued_total",
                "Emails written to the outbox, by kind.",
            )?,
            sent: counter("email_sent_total", "Emails delivered, by kind.")?,
            retried: counter(
                "email_retried_total",
                "Failed attempts that will be tried again, by kind.",
            )?,
            dead: counter("email_dead_total", "Emails given up on, by kind.")?,
            depth: IntGaugeVec::new(
                Opts::new("email_outbox_messages", "Messages in the outbox by status."),
                &["status"],
            )?,
            delivery_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "email_delivery_seconds",
                    "Time from enqueue to delivery, by kind.",
                )
                .buckets(vec![
                    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
                    3600.0,
                ]),
                &["kind"],
            )?,
        };
        // Every kind's series exists from the start, at zero. A series that first
        // appears at 1 has no increase to show, so an alert on `increase(…) > 0`
        // would miss the first dead email, and a rate would miss the first minute.
        for kind in EmailKind::ALL {
            let kind = [kind.as_str()];
            for counter in [
                &metrics.queued,
                &metrics.sent,
                &metrics.retried,
                &metrics.dead,
            ] {
                counter.with_label_values(&kind);
            }
            metrics.delivery_seconds.with_label_values(&kind);
        }
        Ok(metrics)
    }

    /// Series registered nowhere, for when the registry refused them: delivery goes
    /// on without metrics rather than not at all.
    pub fn unregistered() -> Self {
        Self::build().expect("the metric definitions are valid")
    }

    pub(crate) fn queued(&self, kind: &str) {
        self.queued.with_label_values(&[kind]).inc();
    }

    pub(crate) fn sent(&self, kind: &str, seconds_since_enqueue: f64) {
        self.sent.with_label_values(&[kind]).inc();
        self.delivery_seconds
            .with_label_values(&[kind])
            .observe(seconds_since_enqueue.max(0.0));
    }

    pub(crate) fn retried(&self, kind: &str) {
        self.retried.with_label_values(&[kind]).inc();
    }

    pub(crate) fn dead(&self, kind: &str) {
        self.dead.with_label_values(&[kind]).inc();
    }

    pub(crate) fn set_depth(&self, counts: &BTreeMap<OutboxStatus, u64>) {
        for (status, count) in counts {
            self.depth
                .with_label_values(&[status.as_str()])
                .set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
    }
}
