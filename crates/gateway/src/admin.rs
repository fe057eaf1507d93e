//! The admin listener's health, readiness and metrics endpoints.

use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Response, handler};

use crate::app::AppState;

/// The process is up and serving.
#[handler]
pub fn healthz() -> &'static str {
    "ok\n"
}

/// The process can do its work: the database answers.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> Response {
    if state.db.is_reachable().await {
        "ready\n".into_response()
    } else {
        "database unreachable\n"
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response()
    }
}

#[handler]
pub fn metrics(state: Data<&AppState>) -> Response {
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
