//! Assembling the two listeners' endpoints from the shared state.

use std::sync::Arc;
use std::time::Duration;

use identity::{IdentityError, PasswordHasher, PasswordParams, PasswordPolicy, SessionLifetime};
use notification::{DeliveryMetrics, DeliveryWaker, Renderer};
use poem::endpoint::BoxEndpoint;
use poem::middleware::CookieJarManager;
use poem::{Endpoint, EndpointExt, IntoResponse, Route, get, post};
use reset_token::TokenKeys;
use secrecy::ExposeSecret;
use storage::Database;
use tenancy::{DnsTxtLookup, TenantResolver, TxtLookup};

use crate::csrf::CsrfKey;
use crate::error::ErrorPages;
use crate::host_dispatch::HostDispatch;
use crate::intake::{self, IntakeWriter};
use crate::metrics::Metrics;
use crate::request_context::{RequestContext, RequestContextSettings, limit_body};
use crate::settings::{Environment, PublicScheme, Settings};
use crate::templates::Templates;
use crate::{
    access_pages, admin, contact_pages, dev_mailbox, find_firm_pages, forgot_pages, operator_api,
    pages, reset_pages, settings_pages, staff_pages,
};

/// Everything handlers share: one reference-counted pointer, since every request
/// gets its own copy.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Shared {
    pub settings: Arc<Settings>,
    pub db: Database,
    pub resolver: TenantResolver,
    pub templates: Arc<Templates>,
    pub metrics: Metrics,
    pub hasher: PasswordHasher,
    pub policy: PasswordPolicy,
    pub session_lifetime: SessionLifetime,
    pub token_keys: TokenKeys,
    pub renderer: Arc<Renderer>,
    /// Wakes this process's delivery worker after a commit that queued mail.
    pub waker: DeliveryWaker,
    pub delivery_metrics: DeliveryMetrics,
    /// Wakes this process's processor of "Forgot your password?" and "Find your firm"
    /// requests.
    pub reset_requests: Arc<tokio::sync::Notify>,
    /// Reads the TXT records that prove a firm controls a custom domain: DNS, or a
    /// fixed table in tests.
    pub txt_lookup: Arc<dyn TxtLookup>,
    /// Group commit of what public forms only record, and of rate-limit counters.
    pub intake: IntakeWriter,
    /// The key of the forms' CSRF tokens.
    pub csrf: CsrfKey,
}

impl AppState {
    pub fn new(settings: Settings, db: Database) -> Result<Self, IdentityError> {
        Self::with_txt_lookup(settings, db, Arc::new(DnsTxtLookup::new()))
    }

    /// A state that reads the TXT records of custom domains through `txt_lookup` (a
    /// fixed table in tests) instead of DNS.
    pub fn with_txt_lookup(
        settings: Settings,
        db: Database,
        txt_lookup: Arc<dyn TxtLookup>,
    ) -> Result<Self, IdentityError> {
        let resolver = TenantResolver::new(
            db.clone(),
            settings.server.base_domain.clone(),
            Duration::from_secs(settings.tenancy.cache_ttl_seconds),
            settings.tenancy.cache_capacity,
        );
        let password = &settings.password;
        let hasher = PasswordHasher::new(
            PasswordParams {
                memory_kib: password.argon2_m_kib,
                iterations: password.argon2_t,
                parallelism: password.argon2_p,
            },
            password.hash_concurrency,
            Duration::from_millis(password.queue_timeout_ms),
        )?;
        let policy = PasswordPolicy {
            min_length: password.min_length,
        };
        let session_lifetime = SessionLifetime {
            idle: chrono::Duration::minutes(settings.session.idle_minutes),
            absolute: chrono::Duration::hours(settings.session.absolute_hours),
        };
        let security = &settings.security;
        let previous: Vec<&[u8]> = security
            .previous_token_keys
            .iter()
            .map(|key| key.expose_secret().as_bytes())
            .collect();
        let token_keys = TokenKeys::new(security.token_key.expose_secret().as_bytes(), &previous);
        let metrics = Metrics::new();
        let delivery_metrics =
            DeliveryMetrics::register(metrics.registry()).unwrap_or_else(|error| {
                tracing::warn!(%error, "email metrics are not registered");
                DeliveryMetrics::unregistered()
            });
        let intake = intake::start(db.clone());
        let csrf = CsrfKey::new(
            csrf_key(&settings),
            settings.server.public_scheme == PublicScheme::Https,
        );
        Ok(Self(Arc::new(Shared {
            settings: Arc::new(settings),
            intake,
            csrf,
            db,
            resolver,
            templates: Arc::new(Templates::new()),
            metrics,
            renderer: Arc::new(Renderer::new()),
            waker: DeliveryWaker::new(Some(delivery_metrics.clone())),
            delivery_metrics,
            reset_requests: Arc::new(tokio::sync::Notify::new()),
            txt_lookup,
            hasher,
            policy,
            session_lifetime,
            token_keys,
        })))
    }

    /// The password rules of a firm: the platform's, with the firm's own minimum
    /// length where it chose one.
    pub fn policy_for(&self, tenant: &tenancy::Tenant) -> PasswordPolicy {
        let min_length = tenant
            .settings
            .min_password_length
            .and_then(|length| usize::try_from(length).ok())
            .unwrap_or(self.policy.min_length);
        PasswordPolicy { min_length }
    }

    /// Whether people reach us over https, which makes cookies `Secure`.
    pub fn is_https(&self) -> bool {
        self.settings.server.public_scheme == PublicScheme::Https
    }
}

/// The CSRF key, derived from the token key so that operators manage one secret.
fn csrf_key(settings: &Settings) -> [u8; 32] {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(
        settings.security.token_key.expose_secret().as_bytes(),
    )
    .expect("HMAC takes keys of any length");
    mac.update(b"latchkey csrf key v1");
    mac.finalize().into_bytes().into()
}

/// Routes of a firm's host (`{slug}.{base_domain}` or a verified custom domain).
fn firm_routes() -> Route {
    Route::new()
        .at("/", get(contact_pages::home))
        .at(
            "/login",
            get(contact_pages::login_page).post(contact_pages::login),
        )
        .at("/logout", post(contact_pages::logout))
        .at(
            "/account/password",
            get(contact_pages::password_page).post(contact_pages::change_password),
        )
        .at(
            "/reset",
            get(reset_pages::reset_page).post(reset_pages::set_password),
        )
        .at(
            "/forgot-password",
            get(forgot_pages::forgot_page).post(forgot_pages::request_reset),
        )
        .at("/reset/:token", get(reset_pages::open_link))
        .at(
            "/reset/temporary",
            post(reset_pages::send_temporary_password),
        )
        .at("/staff", get(staff_pages::staff_home))
        .at(
            "/staff/login",
            get(staff_pages::login_page).post(staff_pages::login),
        )
        .at("/staff/logout", post(staff_pages::logout))
        .at("/staff/workspaces", get(staff_pages::workspaces))
        .at("/staff/clients", get(staff_pages::clients))
        .at(
            "/staff/clients/new",
            get(staff_pages::new_client_page).post(staff_pages::new_client),
        )
        .at(
            "/staff/clients/:client_id/edit",
            get(staff_pages::edit_client_page).post(staff_pages::edit_client),
        )
        .at(
            "/staff/clients/:client_id/contacts",
            get(staff_pages::contacts),
        )
        .at(
            "/staff/clients/:client_id/contacts/new",
            get(staff_pages::new_contact_page).post(staff_pages::new_contact),
        )
        .at(
            "/staff/clients/:client_id/contacts/:contact_id/edit",
            get(staff_pages::edit_contact_page).post(staff_pages::edit_contact),
        )
        .at(
            "/staff/clients/:client_id/contacts/:contact_id",
            get(staff_pages::contact_page),
        )
        .at(
            "/staff/clients/:client_id/contacts/:contact_id/reset-password",
            post(staff_pages::reset_password),
        )
        .at(
            "/request-access",
            get(access_pages::request_page).post(access_pages::submit_request),
        )
        .at("/staff/access-requests", get(access_pages::list_requests))
        .at(
            "/staff/access-requests/:request_id/approve",
            post(access_pages::approve),
        )
        .at(
            "/staff/access-requests/:request_id/decline",
            post(access_pages::decline),
        )
        .at(
            "/staff/team",
            get(staff_pages::team).post(staff_pages::invite),
        )
        .at(
            "/staff/settings",
            get(settings_pages::settings_form).post(settings_pages::save_settings),
        )
        .at("/branding.css", get(pages::branding_stylesheet))
        .at("/static/latchkey.css", get(pages::stylesheet))
        .at("/static/latchkey.js", get(pages::script))
}

/// Routes of the platform host (`base_domain` itself).
fn platform_routes(development: bool) -> Route {
    let route = Route::new();
    let route = if development {
        route
            .at("/_dev/mailbox", get(dev_mailbox::list))
            .at("/_dev/mailbox/:id", get(dev_mailbox::show))
            .at("/_dev/mailbox/:id/html", get(dev_mailbox::html))
    } else {
        route
    };
    route
        .at("/", get(pages::platform_home))
        .at(
            "/find-your-firm",
            get(find_firm_pages::find_page).post(find_firm_pages::request_list),
        )
        .at("/static/latchkey.css", get(pages::stylesheet))
        .at("/static/latchkey.js", get(pages::script))
}

/// The public listener: host dispatch inside error pages inside the request context.
pub fn public_endpoint(state: &AppState) -> BoxEndpoint<'static> {
    let body_limit = state.settings.server.body_limit_bytes;
    let dispatch = HostDispatch::new(
        state.resolver.clone(),
        firm_routes()
            .with(CookieJarManager::new())
            .data(state.clone())
            .map_to_response(),
        platform_routes(state.settings.environment == Environment::Development)
            .with(CookieJarManager::new())
            .data(state.clone())
            .map_to_response(),
    );
    let context_settings = RequestContextSettings {
        trusted_proxies: state.settings.server.trusted_proxies.clone(),
        hsts: state.settings.server.public_scheme == PublicScheme::Https,
    };
    let pages = dispatch
        .around(move |inner, req| async move {
            let req = limit_body(req, body_limit).await?;
            inner.call(req).await.map(IntoResponse::into_response)
        })
        .with(ErrorPages::new(state.templates.clone()))
        .with(RequestContext::new(context_settings, state.metrics.clone()));
    if !state.settings.bench.ceiling_route {
        return pages.boxed();
    }
    // The benchmark's ceiling: this listener and its HTTP stack, before any of our
    // middleware, so that a page's ratio to it shows what the page itself costs.
    pages
        .around(|inner, req| async move {
            if req.uri().path() == pages::BENCH_CEILING_PATH {
                return Ok("ok\n".into_response());
            }
            inner.call(req).await
        })
        .boxed()
}

/// The admin listener: health, readiness, metrics and the operator API.
pub fn admin_endpoint(state: &AppState) -> BoxEndpoint<'static> {
    operator_api::routes(state)
        .at("/healthz", get(admin::healthz))
        .at("/readyz", get(admin::readyz))
        .at("/metrics", get(admin::metrics))
        .data(state.clone())
        .map_to_response()
        .boxed()
}
