//! A firm's custom domains: claiming one, proving control with a DNS TXT record,
//! choosing the one links use, and giving one up.
//!
//! The proof is pluggable ([`TxtLookup`]): [`DnsTxtLookup`] asks DNS, and
//! [`StaticTxtLookup`] answers from a table, so tests verify domains without DNS.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, UpdateMany,
};
use uuid::Uuid;

use crate::directory::{find_tenant_by_id, is_unique_violation};
use crate::entity::{tenant, tenant_domain};
use crate::{HostName, TenancyError, Tenant, TenantId};

/// The DNS name under which a domain's proof is published.
const CHALLENGE_LABEL: &str = "_latchkey-challenge";

/// The longest custom domain whose TXT record name, `_latchkey-challenge.{domain}`,
/// is still a DNS name (253 characters): a longer one could never be verified.
pub const MAX_CUSTOM_DOMAIN_LENGTH: usize = 253 - CHALLENGE_LABEL.len() - 1;

/// A custom domain of a firm and the TXT value that proves the firm controls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDomain {
    pub tenant_id: TenantId,
    pub domain: HostName,
    pub verification_token: String,
    pub verified_at: Option<DateTime<Utc>>,
}

impl TenantDomain {
    /// The TXT record to publish: `_latchkey-challenge.{domain}`.
    pub fn record_name(&self) -> String {
        format!("{CHALLENGE_LABEL}.{}", self.domain)
    }

    fn from_row(row: tenant_domain::Model) -> Result<Self, TenancyError> {
        Ok(Self {
            tenant_id: TenantId::from_uuid(row.tenant_id),
            domain: HostName::parse(&row.domain)?,
            verification_token: row.verification_token,
            verified_at: row.verified_at,
        })
    }
}

/// Records `domain` as a custom domain of the firm, unverified: it resolves only once
/// verified.
pub async fn add_tenant_domain(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    domain: HostName,
    base_domain: &HostName,
    now: DateTime<Utc>,
) -> Result<TenantDomain, TenancyError> {
    let under_platform =
        domain == *base_domain || domain.as_str().ends_with(&format!(".{base_domain}"));
    if under_platform {
        return Err(TenancyError::PlatformDomain(domain.to_string()));
    }
    if domain.as_str().len() > MAX_CUSTOM_DOMAIN_LENGTH {
        return Err(TenancyError::DomainTooLong {
            domain: domain.to_string(),
            max: MAX_CUSTOM_DOMAIN_LENGTH,
        });
    }
    let verification_token = format!("latchkey-verification={}", Uuid::new_v4().simple());
    let row = tenant_domain::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id.as_uuid()),
        domain: Set(domain.to_string()),
        verification_token: Set(verification_token.clone()),
        verified_at: Set(None),
        created_at: Set(now),
    };
    match row.insert(db).await {
        Ok(_) => Ok(TenantDomain {
            tenant_id,
            domain,
            verification_token,
            verified_at: None,
        }),
        Err(error) if is_unique_violation(&error) => {
            Err(TenancyError::DomainTaken(domain.to_string()))
        }
        Err(error) => Err(error.into()),
    }
}

/// Marks a firm's domain as verified, after its TXT record was checked.
pub async fn mark_tenant_domain_verified(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    domain: &HostName,
    now: DateTime<Utc>,
) -> Result<(), TenancyError> {
    let result = tenant_domain::Entity::update_many()
        .col_expr(tenant_domain::Column::VerifiedAt, Expr::value(now))
        .filter(the_domain(tenant_id, domain))
        .exec(db)
        .await?;
    known_domain(result.rows_affected, domain)
}

/// The firm's row for `domain`.
fn the_domain(tenant_id: TenantId, domain: &HostName) -> Condition {
    Condition::all()
        .add(tenant_domain::Column::TenantId.eq(tenant_id.as_uuid()))
        .add(tenant_domain::Column::Domain.eq(domain.as_str()))
}

/// A statement meant for one of the firm's domains that touched no row names a
/// domain the firm does not have.
fn known_domain(rows_affected: u64, domain: &HostName) -> Result<(), TenancyError> {
    if rows_affected == 0 {
        return Err(TenancyError::UnknownDomain(domain.to_string()));
    }
    Ok(())
}

/// A firm's custom domains, by name.
pub async fn list_tenant_domains(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
) -> Result<Vec<TenantDomain>, TenancyError> {
    tenant_domain::Entity::find()
        .filter(tenant_domain::Column::TenantId.eq(tenant_id.as_uuid()))
        .order_by_asc(tenant_domain::Column::Domain)
        .all(db)
        .await?
        .into_iter()
        .map(TenantDomain::from_row)
        .collect()
}

async fn find_tenant_domain(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    domain: &HostName,
) -> Result<TenantDomain, TenancyError> {
    let row = tenant_domain::Entity::find()
        .filter(the_domain(tenant_id, domain))
        .one(db)
        .await?
        .ok_or_else(|| TenancyError::UnknownDomain(domain.to_string()))?;
    TenantDomain::from_row(row)
}

/// Gives a domain up. If links used it, they go back to the platform subdomain.
pub async fn remove_tenant_domain(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    domain: &HostName,
    now: DateTime<Utc>,
) -> Result<(), TenancyError> {
    let result = tenant_domain::Entity::delete_many()
        .filter(the_domain(tenant_id, domain))
        .exec(db)
        .await?;
    known_domain(result.rows_affected, domain)?;
    stop_linking_to(db, tenant_id, domain, now).await?;
    Ok(())
}

/// If `domain` is the firm's canonical host, its links go back to the platform
/// subdomain.
async fn stop_linking_to(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    domain: &HostName,
    now: DateTime<Utc>,
) -> Result<(), TenancyError> {
    link_to(tenant_id, None, now)
        .filter(tenant::Column::CanonicalDomain.eq(domain.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// The update that makes `domain` the host of the firm's links (`None`: the platform
/// subdomain).
fn link_to(
    tenant_id: TenantId,
    domain: Option<&HostName>,
    now: DateTime<Utc>,
) -> UpdateMany<tenant::Entity> {
    tenant::Entity::update_many()
        .col_expr(
            tenant::Column::CanonicalDomain,
            Expr::value(domain.map(ToString::to_string)),
        )
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Id.eq(tenant_id.as_uuid()))
}

/// Chooses the host of the links in the firm's emails: one of its verified domains,
/// or `None` for its platform subdomain.
pub async fn set_canonical_domain(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    domain: Option<&HostName>,
    now: DateTime<Utc>,
) -> Result<Tenant, TenancyError> {
    if let Some(domain) = domain {
        let claimed = find_tenant_domain(db, tenant_id, domain).await?;
        if claimed.verified_at.is_none() {
            return Err(not_verified(&claimed));
        }
    }
    let result = link_to(tenant_id, domain, now).exec(db).await?;
    if result.rows_affected == 0 {
        return Err(TenancyError::UnknownTenant(tenant_id.to_string()));
    }
    find_tenant_by_id(db, tenant_id)
        .await?
        .ok_or_else(|| TenancyError::UnknownTenant(tenant_id.to_string()))
}

fn not_verified(domain: &TenantDomain) -> TenancyError {
    TenancyError::DomainNotVerified {
        domain: domain.domain.to_string(),
        record_name: domain.record_name(),
        expected: domain.verification_token.clone(),
    }
}

/// Checks the domain's TXT record and marks the domain verified when one of the
/// record's values is exactly the firm's token; `verified_at` then says when it was
/// last confirmed. Verifying a verified domain again checks again: a record taken
/// down is noticed, and the domain lapses, stops resolving to the firm and stops
/// being the host of its links. A lookup that fails (DNS down) changes nothing.
pub async fn verify_tenant_domain(
    db: &impl ConnectionTrait,
    lookup: &dyn TxtLookup,
    tenant_id: TenantId,
    domain: &HostName,
    now: DateTime<Utc>,
) -> Result<TenantDomain, TenancyError> {
    let claimed = find_tenant_domain(db, tenant_id, domain).await?;
    let name = claimed.record_name();
    let records =
        lookup
            .txt_records(&name)
            .await
            .map_err(|error| TenancyError::TxtLookupFailed {
                name: name.clone(),
                reason: error.0,
            })?;
    if !records
        .iter()
        .any(|record| record.trim() == claimed.verification_token)
    {
        if claimed.verified_at.is_some() {
            lapse_tenant_domain(db, tenant_id, domain, now).await?;
        }
        return Err(not_verified(&claimed));
    }
    mark_tenant_domain_verified(db, tenant_id, domain, now).await?;
    find_tenant_domain(db, tenant_id, domain).await
}

/// A verified domain whose record is gone: no longer verified, and no longer the
/// firm's canonical host.
async fn lapse_tenant_domain(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    domain: &HostName,
    now: DateTime<Utc>,
) -> Result<(), TenancyError> {
    tenant_domain::Entity::update_many()
        .col_expr(
            tenant_domain::Column::VerifiedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(the_domain(tenant_id, domain))
        .exec(db)
        .await?;
    stop_linking_to(db, tenant_id, domain, now).await?;
    tracing::warn!(tenant = %tenant_id, domain = %domain, "a custom domain's TXT record is gone; it no longer serves the firm");
    Ok(())
}

/// Verified domains last confirmed before `confirmed_before`, of every firm (the
/// daily re-verification reads across firms), oldest first, at most `limit`.
pub async fn domains_due_for_reverification(
    db: &impl ConnectionTrait,
    confirmed_before: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(TenantId, HostName)>, TenancyError> {
    tenant_domain::Entity::find()
        .filter(tenant_domain::Column::VerifiedAt.lt(confirmed_before))
        .order_by_asc(tenant_domain::Column::VerifiedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let domain = HostName::parse(&row.domain)
                .map_err(|_| TenancyError::UnknownDomain(row.domain.clone()))?;
            Ok((TenantId::from_uuid(row.tenant_id), domain))
        })
        .collect()
}

/// Why TXT records could not be read (not "there are none": that is an empty list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxtLookupError(pub String);

/// The TXT records under a DNS name, each record's strings joined.
pub type TxtFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<String>, TxtLookupError>> + Send + 'a>>;

/// Reads TXT records. Object-safe, so the gateway holds whichever one it was given.
pub trait TxtLookup: Send + Sync + std::fmt::Debug {
    fn txt_records<'a>(&'a self, name: &'a str) -> TxtFuture<'a>;
}

/// TXT records from DNS, through the system's resolver configuration.
#[derive(Debug, Default)]
pub struct DnsTxtLookup;

impl DnsTxtLookup {
    pub fn new() -> Self {
        Self
    }
}

impl TxtLookup for DnsTxtLookup {
    fn txt_records<'a>(&'a self, name: &'a str) -> TxtFuture<'a> {
        Box::pin(async move {
            let resolver = hickory_resolver::Resolver::builder_tokio()
                .map_err(|error| TxtLookupError(error.to_string()))?
                .build()
                .map_err(|error| TxtLookupError(error.to_string()))?;
            // A fully qualified name, so no search domain of the host is appended.
            let fqdn = format!("{name}.");
            match resolver.txt_lookup(fqdn).await {
                Ok(lookup) => Ok(lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        // A record's strings form one value (RFC 7208 §3.3).
                        hickory_resolver::proto::rr::RData::TXT(txt) => Some(
                            txt.txt_data
                                .iter()
                                .map(|part| String::from_utf8_lossy(part))
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect()),
                Err(error) if error.is_no_records_found() || error.is_nx_domain() => Ok(Vec::new()),
                Err(error) => Err(TxtLookupError(error.to_string())),
            }
        })
    }
}

/// TXT records from a table filled in by hand: for tests and for development
/// without DNS.
#[derive(Debug, Default)]
pub struct StaticTxtLookup {
    records: RwLock<HashMap<String, Vec<String>>>,
}

impl StaticTxtLookup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes `value` under `name`, replacing what was there.
    pub fn publish(&self, name: &str, value: &str) {
        self.records
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_ascii_lowercase(), vec![value.to_owned()]);
    }
}

impl TxtLookup for StaticTxtLookup {
    fn txt_records<'a>(&'a self, name: &'a str) -> TxtFuture<'a> {
        let found = self
            .records
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default();
        Box::pin(async move { Ok(found) })
    }
}
