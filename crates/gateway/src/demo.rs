//! The development firm that `cargo run -p gateway` shows on a fresh clone: ACME
//! Corporation, its staff administrator, the client "John A. Teague" and his contacts,
//! as in the reference walkthrough. Development only; the passwords are public.

use chrono::Utc;
use identity::{
    EmailAddress, IdentityError, NewContact, NewStaffUser, PasswordHasher, StaffRole,
    create_client, create_contact, create_staff_user, find_staff_by_email,
};
use sea_orm::{ConnectionTrait, DbErr};
use storage::Database;
use tenancy::{NewTenant, TenancyError, Tenant, TenantSlug, create_tenant, find_tenant_by_slug};

use crate::database::StartupLock;

pub const DEMO_SLUG: &str = "acme";
pub const DEMO_NAME: &str = "ACME Corporation";
pub const DEMO_ADMIN_EMAIL: &str = "admin@acme.test";
pub const DEMO_ADMIN_PASSWORD: &str = "acme-demo-admin-2026";
pub const DEMO_CLIENT: &str = "John A. Teague";
/// (name, email, password) of the demo contacts.
pub const DEMO_CONTACTS: &[(&str, &str, &str)] = &[
    ("Body Boom", "body.boom@acme.test", "body-boom-demo-2026"),
    (
        "John Teague",
        "john.teague@acme.test",
        "john-teague-demo-2026",
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("cannot take the start-up lock: {0}")]
    Lock(DbErr),
}

/// Creates the demo firm unless it exists; an operator's later changes to it stay.
///
/// Instances that start together take turns (the start-up lock), so each looks the
/// firm and its people up after the one before has committed them: whoever comes
/// second finds them and creates nothing. Half a demo firm is never left behind, as
/// the firm and its people are written in the lock's one transaction.
pub async fn ensure_demo_firm(db: &Database, hasher: &PasswordHasher) -> Result<Tenant, DemoError> {
    let lock = StartupLock::acquire(db).await.map_err(DemoError::Lock)?;
    let tenant = ensure_demo_firm_in(lock.connection(), hasher).await?;
    lock.commit().await.map_err(DemoError::Lock)?;
    Ok(tenant)
}

async fn ensure_demo_firm_in(
    db: &impl ConnectionTrait,
    hasher: &PasswordHasher,
) -> Result<Tenant, DemoError> {
    let slug = TenantSlug::parse(DEMO_SLUG).map_err(TenancyError::from)?;
    let tenant = match find_tenant_by_slug(db, &slug).await? {
        Some(existing) => existing,
        None => {
            let new = NewTenant::new(slug.clone(), DEMO_NAME, DEMO_ADMIN_EMAIL)?;
            let tenant = create_tenant(db, new, Utc::now()).await?;
            tracing::info!(tenant = %tenant.slug, "created the demo firm");
            tenant
        }
    };
    let admin_email = EmailAddress::parse(DEMO_ADMIN_EMAIL).expect("the demo address is valid");
    if find_staff_by_email(db, tenant.id, &admin_email)
        .await?
        .is_none()
    {
        seed_people(db, hasher, &tenant, admin_email).await?;
    }
    Ok(tenant)
}

async fn seed_people(
    db: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    tenant: &Tenant,
    admin_email: EmailAddress,
) -> Result<(), DemoError> {
    let now = Utc::now();
    let admin = NewStaffUser {
        email: admin_email,
        name: "Alex Admin".to_owned(),
        role: StaffRole::Admin,
        password_hash: Some(hasher.hash(DEMO_ADMIN_PASSWORD).await?),
    };
    create_staff_user(db, tenant.id, admin, now).await?;
    let client = create_client(db, tenant.id, DEMO_CLIENT, now).await?;
    for (name, email, password) in DEMO_CONTACTS {
        let contact = NewContact {
            client_id: client.id,
            name: (*name).to_owned(),
            email: EmailAddress::parse(email).expect("the demo addresses are valid"),
            locale: "en".to_owned(),
            password_hash: Some(hasher.hash(password).await?),
        };
        create_contact(db, tenant.id, contact, now).await?;
    }
    for name in ["Globex Accounting", "Initech LLC", "Umbrella Holdings"] {
        create_client(db, tenant.id, name, now).await?;
    }
    tracing::info!(tenant = %tenant.slug, "created the demo staff, clients and contacts");
    Ok(())
}
