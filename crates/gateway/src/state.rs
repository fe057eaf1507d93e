//! What every handler shares: the use cases' context, configuration, templates,
//! metrics and the CSRF key.

use std::sync::Arc;
use std::time::Duration;

use identity::{IdentityError, PasswordHasher, PasswordParams, PasswordPolicy, SessionLifetime};
use notification::DeliveryMetrics;
use reset_token::TokenKeys;
use secrecy::ExposeSecret;
use service::{FirmLinks, Ingredients, ServiceConfig, Services};
use storage::Database;
use tenancy::{DnsTxtLookup, TenantResolver, TxtLookup};

use crate::http::csrf::CsrfKey;
use crate::http::templates::Templates;
use crate::metrics::Metrics;
use crate::settings::{PublicScheme, Settings};

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

/// What [`AppState`] holds: the use cases' context, and what only HTTP needs.
#[derive(Debug)]
pub struct Shared {
    pub services: Services,
    pub settings: Arc<Settings>,
    pub templates: Arc<Templates>,
    pub metrics: Metrics,
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
        let metrics = Metrics::new();
        let services = services(&settings, db, txt_lookup, &metrics)?;
        let csrf = CsrfKey::new(
            csrf_key(&settings),
            settings.server.public_scheme == PublicScheme::Https,
        );
        Ok(Self(Arc::new(Shared {
            services,
            settings: Arc::new(settings),
            csrf,
            templates: Arc::new(Templates::new()),
            metrics,
        })))
    }

    /// Whether people reach us over https, which makes cookies `Secure`.
    pub fn is_https(&self) -> bool {
        self.settings.server.public_scheme == PublicScheme::Https
    }
}

/// The use cases' context for the CLI: DNS for custom domains, and metrics nobody
/// scrapes.
pub fn services_for(settings: &Settings, db: Database) -> Result<Services, IdentityError> {
    services(settings, db, Arc::new(DnsTxtLookup::new()), &Metrics::new())
}

/// The use cases' context from configuration.
pub fn services(
    settings: &Settings,
    db: Database,
    txt_lookup: Arc<dyn TxtLookup>,
    metrics: &Metrics,
) -> Result<Services, IdentityError> {
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
    let delivery_metrics = DeliveryMetrics::register(metrics.registry()).unwrap_or_else(|error| {
        tracing::warn!(%error, "email metrics are not registered");
        DeliveryMetrics::unregistered()
    });
    let server = &settings.server;
    let config = ServiceConfig {
        links: FirmLinks {
            base_domain: server.base_domain.clone(),
            scheme: server.public_scheme,
            port: server.public_port,
        },
        limits: settings.limits.clone(),
        password_policy: PasswordPolicy {
            min_length: password.min_length,
        },
        default_reset_minutes: settings.reset.default_ttl_minutes,
        purge_after_days: settings.tenancy.purge_after_days,
    };
    let ingredients = Ingredients {
        hasher,
        session_lifetime,
        token_keys,
        resolver,
        txt_lookup,
        delivery_metrics,
    };
    Ok(Services::new(config, db, ingredients))
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
