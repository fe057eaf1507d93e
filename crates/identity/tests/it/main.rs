//! The identity crate against a real database (SQLite, or PostgreSQL when
//! `LATCHKEY_TEST_DATABASE_URL` is set).

mod accounts;
mod sessions;

use chrono::{DateTime, Utc};
use identity::{EmailAddress, NewContact};
use migrations::testing::{TestDatabase, fresh_database};
use tenancy::{ClientId, NewTenant, Tenant, TenantSlug};

pub async fn firm(db: &storage::Database, slug: &str) -> Tenant {
    let new = NewTenant::new(TenantSlug::parse(slug).unwrap(), slug, "admin@firm.test").unwrap();
    tenancy::create_tenant(db, new, Utc::now()).await.unwrap()
}

/// A fresh database holding a firm for each of `slugs`, in that order, and the time
/// they were made.
pub async fn firms<const N: usize>(slugs: [&str; N]) -> (TestDatabase, [Tenant; N], DateTime<Utc>) {
    let database = fresh_database().await;
    let mut tenants = Vec::with_capacity(N);
    for slug in slugs {
        tenants.push(firm(&database.connection, slug).await);
    }
    let Ok(tenants) = tenants.try_into() else {
        unreachable!("one firm a slug")
    };
    (database, tenants, Utc::now())
}

/// An invited contact of `client_id`: no password yet.
pub fn invited(client_id: ClientId, name: &str, email: &str, locale: &str) -> NewContact {
    NewContact {
        client_id,
        name: name.into(),
        email: EmailAddress::parse(email).unwrap(),
        locale: locale.into(),
        password_hash: None,
    }
}
