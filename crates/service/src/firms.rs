//! The firm lifecycle as operators drive it: provisioning, changes, suspension,
//! deletion and purge, custom domains. The CLI, the operator API and the staff
//! settings page all call these functions, so a rule lives in one place and every
//! change reaches this instance's host cache at once (other instances within
//! `tenancy.cache_ttl_seconds`).

use chrono::{DateTime, Duration, Utc};
use identity::{Actor, EmailAddress, IdentityError, NewStaffUser, StaffRole};
use sea_orm::TransactionTrait;
use tenancy::{
    AccountRef, HostName, NewTenant, TenancyError, Tenant, TenantDomain, TenantProfileChange,
    TenantSettings, TenantSlug, TenantStatus,
};

use crate::accounts::{Inviter, invite_in};
use crate::emails::Invitee;
use crate::{ServiceError, Services};

/// What a new firm needs.
#[derive(Debug, Clone)]
pub struct NewFirm<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub admin_email: &'a str,
    /// The first administrator's name; "Administrator" when not given.
    pub admin_name: Option<&'a str>,
}

/// Creates a firm and its first staff administrator, and invites that administrator
/// to set a password: one transaction, so a firm never exists without its invitation.
pub async fn provision_firm(services: &Services, new: NewFirm<'_>) -> Result<Tenant, ServiceError> {
    let slug = TenantSlug::parse(new.slug).map_err(TenancyError::from)?;
    let firm = NewTenant::new(slug, new.name, new.admin_email)?;
    let admin_email = EmailAddress::parse(new.admin_email).map_err(IdentityError::from)?;
    let now = Utc::now();
    let txn = services.db.begin().await?;
    let tenant = tenancy::create_tenant(&txn, firm, now).await?;
    let admin = identity::create_staff_user(
        &txn,
        tenant.id,
        NewStaffUser {
            email: admin_email,
            name: new.admin_name.unwrap_or("Administrator").to_owned(),
            role: StaffRole::Admin,
            password_hash: None,
        },
        now,
    )
    .await?;
    let invitee = Invitee {
        account: AccountRef::Staff(admin.id),
        name: &admin.name,
        email: &admin.email,
        locale: Some(&tenant.settings.default_locale),
    };
    let inviter = Inviter {
        actor: Actor::System,
        from: None,
        detail: Some("the firm was provisioned".to_owned()),
    };
    let queued = invite_in(&txn, services, &tenant, invitee, inviter).await?;
    txn.commit().await?;
    services.waker.notify(&queued);
    // A "no firm here" answer for the new subdomain may be cached.
    services.resolver.invalidate_tenant(tenant.id);
    tracing::info!(tenant = %tenant.slug, "firm provisioned; its administrator is invited");
    Ok(tenant)
}

/// The firm with `slug`, in any status; a malformed slug names no firm.
pub async fn find_firm(services: &Services, slug: &str) -> Result<Tenant, ServiceError> {
    let unknown = || TenancyError::UnknownTenant(slug.to_owned());
    let parsed = TenantSlug::parse(slug).map_err(|_| unknown())?;
    Ok(tenancy::find_tenant_by_slug(&services.db, &parsed)
        .await?
        .ok_or_else(unknown)?)
}

/// A change to a firm; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct FirmChange {
    pub display_name: Option<String>,
    pub admin_email: Option<String>,
    pub settings: Option<TenantSettings>,
    /// `Some(None)` goes back to the platform subdomain.
    pub canonical_domain: Option<Option<String>>,
}

/// Applies a change in one transaction: either all of it holds or none.
pub async fn update_firm(
    services: &Services,
    slug: &str,
    change: FirmChange,
) -> Result<Tenant, ServiceError> {
    let tenant = find_firm(services, slug).await?;
    if tenant.status == TenantStatus::Deleted {
        return Err(TenancyError::TenantDeleted(tenant.slug.to_string()).into());
    }
    if let Some(email) = &change.admin_email {
        // The address the firm's mail goes to: held to the rules of a staff member's,
        // as when the firm was provisioned.
        EmailAddress::parse(email).map_err(IdentityError::from)?;
    }
    let now = Utc::now();
    let txn = services.db.begin().await?;
    if change.display_name.is_some() || change.admin_email.is_some() {
        let profile = TenantProfileChange {
            display_name: change.display_name,
            admin_email: change.admin_email,
        };
        tenancy::update_tenant_profile(&txn, &tenant.slug, &profile, now).await?;
    }
    if let Some(settings) = &change.settings {
        tenancy::update_tenant_settings(&txn, tenant.id, settings, now).await?;
    }
    if let Some(canonical) = &change.canonical_domain {
        let domain = canonical
            .as_deref()
            .map(HostName::parse_domain)
            .transpose()
            .map_err(TenancyError::from)?;
        tenancy::set_canonical_domain(&txn, tenant.id, domain.as_ref(), now).await?;
    }
    let updated = tenancy::find_tenant_by_id(&txn, tenant.id)
        .await?
        .ok_or_else(|| TenancyError::UnknownTenant(slug.to_owned()))?;
    txn.commit().await?;
    services.resolver.invalidate_tenant(tenant.id);
    Ok(updated)
}

/// Suspends (`Suspended`) or resumes (`Active`) a firm's portal.
pub async fn set_firm_status(
    services: &Services,
    slug: &str,
    status: TenantStatus,
) -> Result<Tenant, ServiceError> {
    let tenant = find_firm(services, slug).await?;
    let updated =
        tenancy::set_tenant_status(&services.db, &tenant.slug, status, Utc::now()).await?;
    services.resolver.invalidate_tenant(tenant.id);
    tracing::info!(tenant = %tenant.slug, status = %updated.status, "firm status changed");
    Ok(updated)
}

/// Takes a firm offline at once; its data is purged after the grace period.
pub async fn delete_firm(services: &Services, slug: &str) -> Result<Tenant, ServiceError> {
    let tenant = find_firm(services, slug).await?;
    let deleted = tenancy::soft_delete_tenant(&services.db, &tenant.slug, Utc::now()).await?;
    services.resolver.invalidate_tenant(tenant.id);
    tracing::info!(tenant = %tenant.slug, "firm deleted; its data waits for the purge");
    Ok(deleted)
}

/// When a deleted firm's data goes.
pub fn purge_due(services: &Services, tenant: &Tenant) -> Option<DateTime<Utc>> {
    tenant
        .deleted_at
        .map(|deleted| deleted + purge_grace(services))
}

fn purge_grace(services: &Services) -> Duration {
    Duration::days(i64::from(services.config.purge_after_days))
}

/// Removes every trace of the firms deleted longer ago than the grace period.
pub async fn purge_deleted_firms(
    services: &Services,
    now: DateTime<Utc>,
) -> Result<Vec<TenantSlug>, ServiceError> {
    let purged = tenancy::purge_deleted_tenants(&services.db, now - purge_grace(services)).await?;
    if !purged.is_empty() {
        services.resolver.invalidate_all();
        for slug in &purged {
            tracing::info!(tenant = %slug, "deleted firm purged");
        }
    }
    Ok(purged)
}

/// Claims a custom domain for a firm; it resolves once its TXT record is verified.
pub async fn add_domain(
    services: &Services,
    slug: &str,
    domain: &str,
) -> Result<TenantDomain, ServiceError> {
    let tenant = live_firm(services, slug).await?;
    let domain = HostName::parse_domain(domain).map_err(TenancyError::from)?;
    Ok(tenancy::add_tenant_domain(
        &services.db,
        tenant.id,
        domain,
        &services.config.links.base_domain,
        Utc::now(),
    )
    .await?)
}

/// Checks the domain's TXT record and, when it holds the firm's value, lets the
/// domain resolve to the firm.
pub async fn verify_domain(
    services: &Services,
    slug: &str,
    domain: &str,
) -> Result<TenantDomain, ServiceError> {
    let tenant = live_firm(services, slug).await?;
    // No firm has a malformed domain, so it names none of this firm's.
    let domain =
        HostName::parse(domain).map_err(|_| TenancyError::UnknownDomain(domain.to_owned()))?;
    let verified = tenancy::verify_tenant_domain(
        &services.db,
        services.txt_lookup.as_ref(),
        tenant.id,
        &domain,
        Utc::now(),
    )
    .await?;
    services.resolver.invalidate_tenant(tenant.id);
    Ok(verified)
}

pub async fn remove_domain(
    services: &Services,
    slug: &str,
    domain: &str,
) -> Result<(), ServiceError> {
    let tenant = find_firm(services, slug).await?;
    let domain =
        HostName::parse(domain).map_err(|_| TenancyError::UnknownDomain(domain.to_owned()))?;
    tenancy::remove_tenant_domain(&services.db, tenant.id, &domain, Utc::now()).await?;
    // The domain's cached answer still names the firm.
    services.resolver.invalidate_tenant(tenant.id);
    Ok(())
}

/// A firm that is not deleted: a deleted one takes no new domains.
async fn live_firm(services: &Services, slug: &str) -> Result<Tenant, ServiceError> {
    let tenant = find_firm(services, slug).await?;
    if tenant.status == TenantStatus::Deleted {
        return Err(TenancyError::TenantDeleted(tenant.slug.to_string()).into());
    }
    Ok(tenant)
}

/// How often `serve` and `worker` look for deleted firms past their grace period.
/// The grace period is days long, so an hour's delay does not matter; several
/// instances purging at once is harmless, as deleting what is gone changes nothing.
const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Purges deleted firms and old rate-limit counters every [`PURGE_INTERVAL`] until
/// `shutdown` completes.
/// A verified domain is checked again once it was last confirmed this long ago.
pub const REVERIFY_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// What one round of re-verification found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reverified {
    pub confirmed: usize,
    pub lapsed: usize,
    /// DNS could not be asked: left as they were, tried again next round.
    pub unanswered: usize,
}

/// Checks again every verified domain last confirmed [`REVERIFY_AFTER`] before `now`:
/// a domain whose TXT record is gone (sold, expired, pointed elsewhere) must stop
/// resolving to the firm and stop carrying its links.
pub async fn reverify_domains(
    services: &Services,
    now: chrono::DateTime<Utc>,
) -> Result<Reverified, ServiceError> {
    let due =
        tenancy::domains_due_for_reverification(&services.db, now - REVERIFY_AFTER, 500).await?;
    let mut checked = Reverified::default();
    for (tenant, domain) in due {
        let outcome = tenancy::verify_tenant_domain(
            &services.db,
            services.txt_lookup.as_ref(),
            tenant,
            &domain,
            now,
        )
        .await;
        match outcome {
            Ok(_) => checked.confirmed += 1,
            Err(TenancyError::DomainNotVerified { .. }) => checked.lapsed += 1,
            Err(TenancyError::TxtLookupFailed { .. }) => checked.unanswered += 1,
            Err(error) => return Err(error.into()),
        }
        services.resolver.invalidate_tenant(tenant);
    }
    Ok(checked)
}

pub async fn run_purge(services: Services, shutdown: impl std::future::Future<Output = ()>) {
    let mut ticks = tokio::time::interval(PURGE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticks.tick() => {
                if let Err(error) = purge_deleted_firms(&services, Utc::now()).await {
                    tracing::warn!(%error, "purging deleted firms failed; trying again later");
                }
                match reverify_domains(&services, Utc::now()).await {
                    Ok(checked) if checked.lapsed > 0 => tracing::warn!(
                        confirmed = checked.confirmed,
                        lapsed = checked.lapsed,
                        "custom domains re-verified; some lapsed"
                    ),
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "re-verifying custom domains failed; trying again later")
                    }
                }
                // Counters of windows long past no longer count for any limit.
                let window = chrono::Duration::minutes(services.config.limits.window_minutes);
                if let Err(error) =
                    identity::purge_rate_limit_counters(&services.db, Utc::now() - window * 2).await
                {
                    tracing::warn!(%error, "purging old rate-limit counters failed; trying again later");
                }
            }
        }
    }
}
