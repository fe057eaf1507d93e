//! Host -> firm resolution, through an in-process cache.
//!
//! In steady state resolving a host makes no database query: answers, including "no
//! firm here", are cached. A change made through this process invalidates the entries
//! at once; a change made elsewhere (the CLI, another instance) is seen when the entry
//! expires, after at most the configured TTL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use storage::Database;

use crate::{
    HostName, TenancyError, Tenant, TenantId, TenantSlug, TenantStatus, find_tenant_by_slug,
    find_tenant_by_verified_domain,
};

/// What a host is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The platform's own domain (`base_domain`).
    Platform,
    /// A firm's subdomain or verified custom domain. The firm may be suspended, never
    /// deleted.
    Firm(Arc<Tenant>),
    /// No firm lives here.
    Unknown,
}

/// "No firm here" is cached for at most this long, so a firm created elsewhere
/// appears quickly even where someone asked for it before it existed.
const MAX_NEGATIVE_TTL: Duration = Duration::from_secs(5);

struct ResolutionExpiry {
    ttl: Duration,
}

impl Expiry<HostName, Resolution> for ResolutionExpiry {
    fn expire_after_create(
        &self,
        _: &HostName,
        value: &Resolution,
        _: Instant,
    ) -> Option<Duration> {
        Some(match value {
            Resolution::Unknown => self.ttl.min(MAX_NEGATIVE_TTL),
            Resolution::Platform | Resolution::Firm(_) => self.ttl,
        })
    }
}

/// Resolves hosts to firms for one platform domain.
#[derive(Clone)]
pub struct TenantResolver {
    db: Database,
    base_domain: HostName,
    cache: Cache<HostName, Resolution>,
}

impl std::fmt::Debug for TenantResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantResolver")
            .field("base_domain", &self.base_domain)
            .field("cached_hosts", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl TenantResolver {
    /// `capacity` bounds the number of cached hosts, so a flood of made-up hosts
    /// cannot grow memory without limit.
    pub fn new(db: Database, base_domain: HostName, ttl: Duration, capacity: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(capacity)
            .expire_after(ResolutionExpiry { ttl })
            .support_invalidation_closures()
            .build();
        Self {
            db,
            base_domain,
            cache,
        }
    }

    pub fn base_domain(&self) -> &HostName {
        &self.base_domain
    }

    /// What `host` is. Concurrent calls for the same uncached host share one query.
    pub async fn resolve(&self, host: &HostName) -> Result<Resolution, Arc<TenancyError>> {
        if *host == self.base_domain {
            return Ok(Resolution::Platform);
        }
        self.cache
            .try_get_with_by_ref(host, self.look_up(host))
            .await
    }

    async fn look_up(&self, host: &HostName) -> Result<Resolution, TenancyError> {
        let found = match host.single_label_under(&self.base_domain) {
            Some(label) => match TenantSlug::parse(label) {
                Ok(slug) => find_tenant_by_slug(&self.db, &slug).await?,
                Err(_) => None,
            },
            None => find_tenant_by_verified_domain(&self.db, host).await?,
        };
        // A deleted firm's hosts answer like hosts of no firm: its data waits for the
        // purge, but nothing of it is served.
        Ok(found
            .filter(|tenant| tenant.status != TenantStatus::Deleted)
            .map_or(Resolution::Unknown, |tenant| {
                Resolution::Firm(Arc::new(tenant))
            }))
    }

    /// Forgets every cached answer about one firm, after it changed.
    pub fn invalidate_tenant(&self, id: TenantId) {
        // Unknown answers are dropped too: the change may be the firm's creation or a
        // new domain, which a cached "no firm here" would hide.
        let predicate = move |_: &HostName, value: &Resolution| match value {
            Resolution::Firm(tenant) => tenant.id == id,
            Resolution::Unknown => true,
            Resolution::Platform => false,
        };
        if let Err(error) = self.cache.invalidate_entries_if(predicate) {
            tracing::warn!(%error, "could not invalidate one firm; dropping every cached host");
            self.cache.invalidate_all();
        }
    }

    /// Forgets every cached answer.
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }
}
