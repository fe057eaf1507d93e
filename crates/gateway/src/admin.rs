//! The admin listener: health, readiness, metrics and the operator API. Never exposed
//! to the internet; the operator API also wants the operator token.

pub mod operator_api;
pub mod probes;

use poem::{Route, get};

use crate::state::AppState;

/// The admin listener's routes.
pub fn routes(state: &AppState) -> Route {
    operator_api::routes(state)
        .at("/healthz", get(probes::healthz))
        .at("/readyz", get(probes::readyz))
        .at("/metrics", get(probes::metrics))
}
