//! Creating, finding, changing and removing firms and their domains.
//!
//! Every function takes a `&impl ConnectionTrait`, so a caller may run it inside a
//! transaction together with its own changes.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, SqlErr,
};

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
        Ok(Self {
            slug,
            display_name: checked_display_name(display_name)?,
            admin_email: checked_admin_email(admin_email)?,
        })
    }
}

fn checked_display_name(raw: &str) -> Result<String, TenancyError> {
    let display_name = raw.trim();
    if display_name.is_empty()
        || display_name.chars().count() > 200
        || display_name.chars().any(char::is_control)
    {
        return Err(TenancyError::InvalidDisplayName);
    }
    Ok(display_name.to_owned())
}

fn checked_admin_email(raw: &str) -> Result<String, TenancyError> {
    let admin_email = raw.trim();
    if !looks_like_email(admin_email) {
        return Err(TenancyError::InvalidEmail(admin_email.to_owned()));
    }
    Ok(admin_email.to_lowercase())
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
        deleted_at: Set(None),
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

/// Only the slug of firm `id`: for listings that name firms, and that must name
/// them even when the rest of a firm's row cannot be read.
pub async fn find_tenant_slug(
    db: &impl ConnectionTrait,
    id: TenantId,
) -> Result<Option<String>, TenancyError> {
    Ok(tenant::Entity::find_by_id(id.as_uuid())
        .select_only()
        .column(tenant::Column::Slug)
        .into_tuple::<String>()
        .one(db)
        .await?)
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

/// Which firms [`list_tenants_page`] returns.
#[derive(Debug, Clone)]
pub struct TenantQuery {
    pub status: Option<TenantStatus>,
    /// The page starts after this name: the slug the previous page ended with, or
    /// any other slug-shaped name.
    pub after: Option<String>,
    /// 1 to 500.
    pub limit: u64,
}

/// One page of firms by slug.
#[derive(Debug, Clone)]
pub struct TenantPage {
    pub tenants: Vec<Tenant>,
    /// Where the next page starts; `None` on the last page.
    pub next_after: Option<TenantSlug>,
}

/// Firms by slug, a page at a time (keyset paging: stable while firms are added).
pub async fn list_tenants_page(
    db: &impl ConnectionTrait,
    query: &TenantQuery,
) -> Result<TenantPage, TenancyError> {
    let limit = query.limit.clamp(1, 500);
    let mut select = tenant::Entity::find().order_by_asc(tenant::Column::Slug);
    if let Some(status) = query.status {
        select = select.filter(tenant::Column::Status.eq(status.as_str()));
    }
    if let Some(after) = &query.after {
        select = select.filter(tenant::Column::Slug.gt(after.as_str()));
    }
    let mut tenants = select
        .limit(limit + 1)
        .all(db)
        .await?
        .into_iter()
        .map(to_tenant)
        .collect::<Result<Vec<_>, _>>()?;
    let more = tenants.len() as u64 > limit;
    tenants.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_after = if more {
        tenants.last().map(|tenant| tenant.slug.clone())
    } else {
        None
    };
    Ok(TenantPage {
        tenants,
        next_after,
    })
}

/// A firm that exists and is not deleted.
async fn live_tenant(db: &impl ConnectionTrait, slug: &TenantSlug) -> Result<Tenant, TenancyError> {
    let tenant = find_tenant_by_slug(db, slug)
        .await?
        .ok_or_else(|| TenancyError::UnknownTenant(slug.to_string()))?;
    if tenant.status == TenantStatus::Deleted {
        return Err(TenancyError::TenantDeleted(slug.to_string()));
    }
    Ok(tenant)
}

/// Suspends or resumes a firm; setting the status it already has is not an error.
/// A deleted firm stays deleted: use [`soft_delete_tenant`] to delete.
#[tracing::instrument(skip(db, now), fields(tenant = %slug))]
pub async fn set_tenant_status(
    db: &impl ConnectionTrait,
    slug: &TenantSlug,
    status: TenantStatus,
    now: DateTime<Utc>,
) -> Result<Tenant, TenancyError> {
    if status == TenantStatus::Deleted {
        return Err(TenancyError::InvalidSetting {
            field: "status",
            reason: "cannot be set to deleted; delete the firm instead".to_owned(),
        });
    }
    let result = tenant::Entity::update_many()
        .col_expr(tenant::Column::Status, Expr::value(status.as_str()))
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Slug.eq(slug.as_str()))
        .filter(tenant::Column::Status.ne(TenantStatus::Deleted.as_str()))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        // Tell "deleted" from "never existed".
        live_tenant(db, slug).await?;
    }
    find_tenant_by_slug(db, slug)
        .await?
        .ok_or_else(|| TenancyError::UnknownTenant(slug.to_string()))
}

/// A change of a firm's name or administrator address; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct TenantProfileChange {
    pub display_name: Option<String>,
    pub admin_email: Option<String>,
}

/// Renames a firm or changes its administrator address, with the rules of
/// [`NewTenant::new`].
pub async fn update_tenant_profile(
    db: &impl ConnectionTrait,
    slug: &TenantSlug,
    change: &TenantProfileChange,
    now: DateTime<Utc>,
) -> Result<Tenant, TenancyError> {
    let tenant = live_tenant(db, slug).await?;
    let mut update = tenant::Entity::update_many()
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Id.eq(tenant.id.as_uuid()));
    if let Some(name) = &change.display_name {
        update = update.col_expr(
            tenant::Column::DisplayName,
            Expr::value(checked_display_name(name)?),
        );
    }
    if let Some(email) = &change.admin_email {
        update = update.col_expr(
            tenant::Column::AdminEmail,
            Expr::value(checked_admin_email(email)?),
        );
    }
    update.exec(db).await?;
    find_tenant_by_slug(db, slug)
        .await?
        .ok_or_else(|| TenancyError::UnknownTenant(slug.to_string()))
}

/// Deletes a firm softly: its hosts stop resolving at once, its data stays until
/// [`purge_deleted_tenants`]. Deleting a deleted firm changes nothing.
#[tracing::instrument(skip(db, now), fields(tenant = %slug))]
pub async fn soft_delete_tenant(
    db: &impl ConnectionTrait,
    slug: &TenantSlug,
    now: DateTime<Utc>,
) -> Result<Tenant, TenancyError> {
    tenant::Entity::update_many()
        .col_expr(
            tenant::Column::Status,
            Expr::value(TenantStatus::Deleted.as_str()),
        )
        .col_expr(tenant::Column::DeletedAt, Expr::value(now))
        .col_expr(tenant::Column::UpdatedAt, Expr::value(now))
        .filter(tenant::Column::Slug.eq(slug.as_str()))
        .filter(tenant::Column::Status.ne(TenantStatus::Deleted.as_str()))
        .exec(db)
        .await?;
    find_tenant_by_slug(db, slug)
        .await?
        .ok_or_else(|| TenancyError::UnknownTenant(slug.to_string()))
}

/// Removes, with everything that belongs to them (the foreign keys cascade), the
/// firms deleted at or before `deleted_before`. Returns their slugs.
pub async fn purge_deleted_tenants(
    db: &impl ConnectionTrait,
    deleted_before: DateTime<Utc>,
) -> Result<Vec<TenantSlug>, TenancyError> {
    let due = tenant::Entity::find()
        .filter(tenant::Column::Status.eq(TenantStatus::Deleted.as_str()))
        .filter(tenant::Column::DeletedAt.lte(deleted_before))
        .all(db)
        .await?;
    let mut purged = Vec::with_capacity(due.len());
    for row in due {
        // Checked again in the DELETE itself, in case the firm changed meanwhile.
        let result = tenant::Entity::delete_many()
            .filter(tenant::Column::Id.eq(row.id))
            .filter(tenant::Column::Status.eq(TenantStatus::Deleted.as_str()))
            .exec(db)
            .await?;
        if result.rows_affected == 1 {
            purged.push(TenantSlug::from_stored(row.slug));
        }
    }
    Ok(purged)
}

/// Replaces a firm's settings, after checking them.
pub async fn update_tenant_settings(
    db: &impl ConnectionTrait,
    id: TenantId,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> Result<(), TenancyError> {
    settings.validate()?;
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

pub(crate) fn is_unique_violation(error: &sea_orm::DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

pub(crate) fn to_tenant(row: tenant::Model) -> Result<Tenant, TenancyError> {
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
        deleted_at: row.deleted_at,
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
