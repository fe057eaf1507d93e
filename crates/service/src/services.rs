//! What every use case is given: the database, the caches and keys, and the parts of
//! configuration that are rules rather than plumbing.

use std::sync::Arc;

use identity::{PasswordHasher, PasswordPolicy, SessionLifetime};
use notification::{DeliveryMetrics, DeliveryWaker, Renderer};
use reset_token::TokenKeys;
use serde::Deserialize;
use storage::Database;
use tenancy::{HostName, Tenant, TenantResolver, TxtLookup};

use crate::FirmPolicy;
use crate::intake::{self, IntakeWriter};

/// The scheme people reach firms over, which every link in an email carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicScheme {
    Http,
    Https,
}

impl PublicScheme {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    fn default_port(&self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// How links to a firm are built: from configuration and the firm's record alone,
/// never from a request's `Host`, so a forged header cannot aim a reset link elsewhere.
#[derive(Debug, Clone)]
pub struct FirmLinks {
    pub base_domain: HostName,
    pub scheme: PublicScheme,
    /// The public port, when the listener is not behind the scheme's default port.
    pub port: Option<u16>,
}

impl FirmLinks {
    /// The public origin of a host: scheme, host and, when it is not the scheme's
    /// default, the port.
    pub fn origin(&self, host: &str) -> String {
        match self.port.filter(|port| *port != self.scheme.default_port()) {
            Some(port) => format!("{}://{host}:{port}", self.scheme.as_str()),
            None => format!("{}://{host}", self.scheme.as_str()),
        }
    }

    /// An absolute URL on the firm's canonical host.
    pub fn firm_url(&self, tenant: &Tenant, path: &str) -> String {
        format!(
            "{}{path}",
            self.origin(&tenant.canonical_host(&self.base_domain))
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub sign_in_per_email: u64,
    pub sign_in_per_address: u64,
    pub forgot_per_address: u64,
    pub reset_emails_per_email: u64,
    /// "Request your credential" requests a firm accepts per hour, from anyone: each
    /// one emails every staff member text a stranger wrote.
    pub access_requests_per_firm_per_hour: u64,
    pub window_minutes: i64,
}

impl LimitSettings {
    /// The window of every limit but the hourly ones.
    pub fn window(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.window_minutes)
    }
}

/// The rules configuration sets for the whole platform.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub links: FirmLinks,
    pub limits: LimitSettings,
    /// The password rules of a firm that chose none of its own.
    pub password_policy: PasswordPolicy,
    /// The reset link's lifetime for a firm that chose none of its own.
    pub default_reset_minutes: u32,
    /// Days a deleted firm's data is kept, offline, before the purge removes it.
    pub purge_after_days: u32,
}

/// The use cases' shared context: one reference-counted pointer, cloned per request
/// and per background task.
#[derive(Debug, Clone)]
pub struct Services(Arc<Parts>);

impl std::ops::Deref for Services {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// What [`Services`] holds.
#[derive(Debug)]
pub struct Parts {
    pub config: ServiceConfig,
    pub db: Database,
    pub resolver: TenantResolver,
    pub hasher: PasswordHasher,
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
}

/// The parts of [`Services`] that are built outside (they need the platform's
/// configuration or a metrics registry).
#[derive(Debug)]
pub struct Ingredients {
    pub hasher: PasswordHasher,
    pub session_lifetime: SessionLifetime,
    pub token_keys: TokenKeys,
    pub resolver: TenantResolver,
    pub txt_lookup: Arc<dyn TxtLookup>,
    pub delivery_metrics: DeliveryMetrics,
}

impl Services {
    /// The context on `db`; starts the intake's group commit, so it needs the runtime.
    pub fn new(config: ServiceConfig, db: Database, ingredients: Ingredients) -> Self {
        let Ingredients {
            hasher,
            session_lifetime,
            token_keys,
            resolver,
            txt_lookup,
            delivery_metrics,
        } = ingredients;
        Self(Arc::new(Parts {
            config,
            intake: intake::start(db.clone()),
            db,
            resolver,
            hasher,
            session_lifetime,
            token_keys,
            renderer: Arc::new(Renderer::new()),
            waker: DeliveryWaker::new(Some(delivery_metrics.clone())),
            delivery_metrics,
            reset_requests: Arc::new(tokio::sync::Notify::new()),
            txt_lookup,
        }))
    }

    /// An absolute URL on the firm's canonical host.
    pub fn firm_url(&self, tenant: &Tenant, path: &str) -> String {
        self.config.links.firm_url(tenant, path)
    }

    /// The firm's rules: its own choices where it made them, the platform's otherwise.
    pub fn policy(&self, tenant: &Tenant) -> FirmPolicy {
        FirmPolicy::of(self, tenant)
    }
}
