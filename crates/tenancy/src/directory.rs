//! Creating, finding, changing and removing firms and their domains.
//!
//! Every function takes a `&impl ConnectionTrait`, so a caller may run it inside a
//! transaction together with its own changes.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    SqlErr,
};
use uuid::Uuid;

use crate::entity::{tenant, tenant_domain};
use crate::{HostName, TenancyError, Tenant, TenantId, TenantSettings, TenantSlug, TenantStatus};

/// What it takes to create a firm, already checked.
#[derive(Debug, Clone)]
pub struct NewTenant {
    slug: TenantSlug,
    display_name: String,
    admin_email: String,
}

impl NewTenant {
    pub fn new(
        slug: TenantSlug,
        display_name: &str,
        admin_email: &str,
    ) -> Result<Self, TenancyError> {
        let display_name = display_name.trim();
        if display_name.is_empty()
            || display_name.chars().count() > 200
            || display_name.chars().any(char::is_control)
        {
            return Err(TenancyError::InvalidDisplayName);
        }
        let admin_email = admin_email.trim();
        if !looks_like_email(admin_email) {
            return Err(TenancyError::InvalidEmail(admin_email.to_owned()));
        }
        Ok(Self {
            slug,
            display_name: display_name.to_owned(),
            admin_email: admin_email.to_lowercase(),
        })
    }
}

/// A plausibility check only: the address is proven when the invitation arrives.
fn looks_like_email(raw: &str) -> bool {
    let Some((local, domain)) = raw.rsplit_once('@') else {
        return false;
    };
    raw.len() <= 320
        && !local.is_empty()
        && local.len() <= 64
        && !raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        && HostName::parse(domain).is_ok_and(|d| d.as_str().contains('.'))
}

/// Creates an active firm.
#[tracing::instrument(skip_all, fields(tenant = %new.slug))]
pub async fn create_tenant(
    db: &impl ConnectionTrait,
    new: NewTenant,
    now: DateTime<Utc>,
) -> Result<Tenant, TenancyError> {
    let settings =
        serde_json::to_string(&TenantSettings::default()).expect("default settings serialise");
    let row = tenant::ActiveModel {
        id: Set(TenantId::generate().as_uuid()),
        slug: Set(new.slug.to_string()),
        display_name: Set(new.display_name),
        status: Set(TenantStatus::Active.as_str().to_owned()),
        admin_email: Set(new.admin_email),
        canonical_domain: Set(None),
        settings: Set(settings),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match row.insert(db).await {
        Ok(model) => to_tenant(model),
        Err(error) if is_unique_violation(&error) => {
            Err(TenancyError::SlugTaken(new.slug.to_string()))
        }
        Err(error) => Err(error.into()),
    }
}

pub async fn find_tenant_by_slug(
    db: &impl ConnectionTrait,
    slug: &TenantSlug,
) -> Result<Option<Tenant>, TenancyError> {
    tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?
        .map(to_tenant)
        .transpose()
}

pub async fn find_tenant_by_id(
    db: &impl ConnectionTrait,
    id: TenantId,
) -> Result<Option<Tenant>, TenancyError> {
    tenant::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .map(to_tenant)
        .transpose()
}

/// The firm that has verified `domain` as a custom domain.
pub async fn find_tenant_by_verified_domain(
    db: &impl ConnectionTrait,
    domain: &HostName,
) -> Result<Option<Tenant>, TenancyError> {
    let Some(row) = tenant_domain::Entity::find()
        .filter(tenant_domain::Column::Domain.eq(domain.as_str()))
        .filter(tenant_domain::Column::VerifiedAt.is_not_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    find_tenant_by_id(db, TenantId::from_uuid(row.tenant_id)).await
}

/// Every firm, by slug.
pub async fn list_tenants(db: &impl ConnectionTrait) -> Result<Vec<Tenant>, TenancyError> {
    tenant::Entity::find()
        .order_by_asc(tenant::Column::Slug)
        .all(db)
        .await?
        .into_iter()
        .map(to_tenant)
        .collect()
}

/// Suspends or resumes a firm; setting the status it already has is not an error.
#[tracing::instrument(skip(db, now), fields(tenant = %slug))]
pub async fn set_tenant_status(
    db: &impl ConnectionTrait,
    slug: &TenantSlug,
    status: TenantStatus,
    now: DateTime<Utc>,
) -> Result<Tenant, TenancyError> {
    let result = tenant::Entity::update_many()
        .col_expr(tenant::Column::Status, Expr::value(status.as_str()))
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Slug.eq(slug.as_str()))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(TenancyError::UnknownTenant(slug.to_string()));
    }
    find_tenant_by_slug(db, slug)
        .await?
        .ok_or_else(|| TenancyError::UnknownTenant(slug.to_string()))
}

/// Replaces a firm's settings.
pub async fn update_tenant_settings(
    db: &impl ConnectionTrait,
    id: TenantId,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> Result<(), TenancyError> {
    let json = serde_json::to_string(settings).expect("settings serialise");
    let result = tenant::Entity::update_many()
        .col_expr(tenant::Column::Settings, Expr::value(json))
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(TenancyError::UnknownTenant(id.to_string()));
    }
    Ok(())
}

/// Removes a firm and, through the foreign keys, everything that belongs to it.
#[tracing::instrument(skip(db), fields(tenant = %slug))]
pub async fn delete_tenant(
    db: &impl ConnectionTrait,
    slug: &TenantSlug,
) -> Result<TenantId, TenancyError> {
    let tenant = find_tenant_by_slug(db, slug)
        .await?
        .ok_or_else(|| TenancyError::UnknownTenant(slug.to_string()))?;
    tenant::Entity::delete_by_id(tenant.id.as_uuid())
        .exec(db)
        .await?;
    Ok(tenant.id)
}

/// A custom domain of a firm and the TXT value that proves the firm controls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantDomain {
    pub tenant_id: TenantId,
    pub domain: HostName,
    pub verification_token: String,
    pub verified_at: Option<DateTime<Utc>>,
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
        .filter(tenant_domain::Column::TenantId.eq(tenant_id.as_uuid()))
        .filter(tenant_domain::Column::Domain.eq(domain.as_str()))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(TenancyError::UnknownDomain(domain.to_string()));
    }
    Ok(())
}

fn is_unique_violation(error: &sea_orm::DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn to_tenant(row: tenant::Model) -> Result<Tenant, TenancyError> {
    let corrupt = |reason: String| TenancyError::CorruptRecord {
        slug: row.slug.clone(),
        reason,
    };
    let status = TenantStatus::parse(&row.status)
        .ok_or_else(|| corrupt(format!("unknown status `{}`", row.status)))?;
    let canonical_domain = row
        .canonical_domain
        .as_deref()
        .map(HostName::parse)
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    let settings = serde_json::from_str(&row.settings).map_err(|e| corrupt(e.to_string()))?;
    Ok(Tenant {
        id: TenantId::from_uuid(row.id),
        slug: TenantSlug::from_stored(row.slug),
        display_name: row.display_name,
        status,
        admin_email: row.admin_email,
        canonical_domain,
        settings,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::looks_like_email;

    #[test]
    fn email_plausibility() {
        assert!(looks_like_email("admin@acme.test"));
        assert!(looks_like_email("first.last+tag@sub.acme.co.uk"));
        for bad in [
            "",
            "admin",
            "@acme.test",
            "admin@",
            "admin@localhost",
            "a b@acme.test",
            "admin@acme.test\r\nBcc: x@evil.test",
            "<admin@acme.test>",
            "admin@acme..test",
        ] {
            assert!(!looks_like_email(bad), "{bad:?}");
        }
    }
}
