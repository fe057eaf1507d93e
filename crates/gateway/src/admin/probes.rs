//! The admin listener's health, readiness and metrics endpoints.

use chrono::Utc;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Response, handler};
use service::cross_firm;
use service::processors::Queue;

use crate::http::error::GatewayError;
use crate::state::AppState;

/// The process is up and serving.
#[handler]
pub fn healthz() -> &'static str {
    "ok\n"
}

/// The process can do its work: the database answers.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> Response {
    if state.services.db.is_reachable().await {
        "ready\n".into_response()
    } else {
        "database unreachable\n"
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response()
    }
}

/// Prometheus metrics. Queue depths and ages are counted afresh at each scrape, so
/// they are right whichever instance did the work.
#[handler]
pub async fn metrics(state: Data<&AppState>) -> Response {
    state.metrics.set_hashing_load(state.services.hasher.load());
    if let Err(error) = refresh_queue_depths(&state).await {
        tracing::warn!(error = %error.detail(), "cannot count the queues for /metrics");
    }
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

async fn refresh_queue_depths(state: &AppState) -> Result<(), GatewayError> {
    let backlog = cross_firm::backlog(&state.services, Utc::now()).await?;
    let gauges = &state.metrics;
    gauges.set_queue_oldest_age("outbox", backlog.outbox_oldest_age_seconds);
    gauges.set_queue_depth("outbox", backlog.outbox);
    for queue in Queue::ALL {
        gauges.set_queue_depth(queue.as_str(), backlog.of(queue));
    }
    Ok(())
}
