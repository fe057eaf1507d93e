//! The identity crate against a real database (SQLite, or PostgreSQL when
//! `LATCHKEY_TEST_DATABASE_URL` is set).

mod accounts;
mod sessions;

use chrono::Utc;
use tenancy::{NewTenant, Tenant, TenantSlug};

pub async fn firm(db: &storage::Database, slug: &str) -> Tenant {
    let new = NewTenant::new(TenantSlug::parse(slug).unwrap(), slug, "admin@firm.test").unwrap();
    tenancy::create_tenant(db, new, Utc::now()).await.unwrap()
}
