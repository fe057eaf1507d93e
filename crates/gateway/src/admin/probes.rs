//! The admin listener's health, readiness and metrics endpoints.

use chrono::Utc;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Response, handler};

use notification::OutboxStatus;
use storage::QueueDepth;

use crate::http::error::GatewayError;
use crate::state::AppState;
use service::processors::Queue;

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
    let outbox = notification::count_unsent_messages(&state.services.db)
        .await
        .map_err(GatewayError::internal)?;
    let count = |status| outbox.get(&status).copied().unwrap_or(0);
    let gauges = &state.metrics;
    let oldest = notification::oldest_unsent_message_at(&state.services.db)
        .await
        .map_err(GatewayError::internal)?;
    gauges.set_queue_oldest_age(
        "outbox",
        oldest.map_or(0, |created| (Utc::now() - created).num_seconds()),
    );
    gauges.set_queue_depth(
        "outbox",
        QueueDepth {
            pending: count(OutboxStatus::Queued) + count(OutboxStatus::Sending),
            failed: count(OutboxStatus::Dead),
        },
    );
    gauges.set_queue_depth(
        Queue::ResetRequests.as_str(),
        reset_token::reset_request_depth(&state.services.db)
            .await
            .map_err(GatewayError::internal)?,
    );
    gauges.set_queue_depth(
        Queue::FirmLookups.as_str(),
        identity::firm_lookup_depth(&state.services.db).await?,
    );
    gauges.set_queue_depth(
        Queue::AccessRequests.as_str(),
        identity::access_notice_depth(&state.services.db).await?,
    );
    Ok(())
}
