//! Assembling the two listeners' endpoints from the shared state.

use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use poem::{Endpoint, EndpointExt, IntoResponse, Route, get};
use sea_orm::DatabaseConnection;
use tenancy::TenantResolver;

use crate::error::ErrorPages;
use crate::host_dispatch::HostDispatch;
use crate::metrics::Metrics;
use crate::request_context::{RequestContext, RequestContextSettings, limit_body};
use crate::settings::{PublicScheme, Settings};
use crate::templates::Templates;
use crate::{admin, pages};

/// Everything handlers share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub resolver: TenantResolver,
    pub templates: Arc<Templates>,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(settings: Settings, db: DatabaseConnection) -> Self {
        let resolver = TenantResolver::new(
            db.clone(),
            settings.server.base_domain.clone(),
            Duration::from_secs(settings.tenancy.cache_ttl_seconds),
            settings.tenancy.cache_capacity,
        );
        Self {
            settings: Arc::new(settings),
            db,
            resolver,
            templates: Arc::new(Templates::new()),
            metrics: Metrics::new(),
        }
    }
}

/// Routes of a firm's host (`{slug}.{base_domain}` or a verified custom domain).
fn firm_routes() -> Route {
    Route::new()
        .at("/", get(pages::firm_home))
        .at("/branding.css", get(pages::branding_stylesheet))
        .at("/static/latchkey.css", get(pages::stylesheet))
}

/// Routes of the platform host (`base_domain` itself).
fn platform_routes() -> Route {
    Route::new()
        .at("/", get(pages::platform_home))
        .at("/static/latchkey.css", get(pages::stylesheet))
}

/// The public listener: host dispatch inside error pages inside the request context.
pub fn public_endpoint(state: &AppState) -> BoxEndpoint<'static> {
    let body_limit = state.settings.server.body_limit_bytes;
    let dispatch = HostDispatch::new(
        state.resolver.clone(),
        firm_routes().data(state.clone()).map_to_response(),
        platform_routes().data(state.clone()).map_to_response(),
    );
    let context_settings = RequestContextSettings {
        trusted_proxies: state.settings.server.trusted_proxies.clone(),
        hsts: state.settings.server.public_scheme == PublicScheme::Https,
    };
    dispatch
        .around(move |inner, req| async move {
            let req = limit_body(req, body_limit).await?;
            inner.call(req).await.map(IntoResponse::into_response)
        })
        .with(ErrorPages::new(state.templates.clone()))
        .with(RequestContext::new(context_settings, state.metrics.clone()))
        .boxed()
}

/// The admin listener: health, readiness and metrics (the operator API joins later).
pub fn admin_endpoint(state: &AppState) -> BoxEndpoint<'static> {
    Route::new()
        .at("/healthz", get(admin::healthz))
        .at("/readyz", get(admin::readyz))
        .at("/metrics", get(admin::metrics))
        .data(state.clone())
        .map_to_response()
        .boxed()
}
