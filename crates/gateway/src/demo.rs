//! The development firm that `cargo run -p gateway` shows on a fresh clone.

use sea_orm::DatabaseConnection;
use tenancy::{NewTenant, TenancyError, Tenant, TenantSlug, create_tenant, find_tenant_by_slug};

pub const DEMO_SLUG: &str = "acme";
pub const DEMO_NAME: &str = "ACME Corporation";
const DEMO_ADMIN_EMAIL: &str = "admin@acme.test";

/// Creates the demo firm unless it exists; an operator's later changes to it stay.
pub async fn ensure_demo_firm(db: &DatabaseConnection) -> Result<Tenant, TenancyError> {
    let slug = TenantSlug::parse(DEMO_SLUG)?;
    if let Some(existing) = find_tenant_by_slug(db, &slug).await? {
        return Ok(existing);
    }
    let new = NewTenant::new(slug.clone(), DEMO_NAME, DEMO_ADMIN_EMAIL)?;
    match create_tenant(db, new, chrono::Utc::now()).await {
        Ok(tenant) => {
            tracing::info!(tenant = %tenant.slug, "created the demo firm");
            Ok(tenant)
        }
        // Another instance created it between our look-up and insert.
        Err(TenancyError::SlugTaken(_)) => find_tenant_by_slug(db, &slug)
            .await?
            .ok_or_else(|| TenancyError::UnknownTenant(DEMO_SLUG.to_owned())),
        Err(error) => Err(error),
    }
}
