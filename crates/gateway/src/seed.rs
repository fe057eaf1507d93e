//! `latchkey seed`: many firms full of contacts, for measuring the platform at scale
//! (`cargo xtask bench`). Development and benchmarks only: every seeded account shares
//! one published password.

use chrono::Utc;
use identity::{
    EmailAddress, IdentityError, NewContact, NewStaffUser, StaffRole, create_client,
    create_staff_user, import_contacts,
};
use sea_orm::TransactionTrait;
use service::Services;
use tenancy::{NewTenant, TenancyError, TenantSlug, create_tenant, find_tenant_by_slug};

/// The password of every seeded staff member and contact.
pub const SEED_PASSWORD: &str = "seeded-password-2026";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

const FIRMS_PER_TRANSACTION: usize = 100;

/// The slug of the `number`th seeded firm: `firm-00001`, …
pub fn seeded_slug(number: usize) -> String {
    format!("firm-{number:05}")
}

/// The address of the `number`th contact of a seeded firm.
pub fn seeded_contact_email(slug: &str, number: usize) -> String {
    format!("contact-{number}@{slug}.test")
}

/// Creates firms `firm-00001` … `firm-{firms}`, each with a staff administrator
/// (`admin@{slug}.test`), one client and `contacts_per_firm` active contacts, a
/// hundred firms a transaction. Firms that exist already are left alone, so an
/// interrupted run continues where it stopped. Calls `progress` with the number of
/// the last firm of each committed hundred. Ends by refreshing PostgreSQL's planner
/// statistics, as anyone should after a bulk load (SQLite is kept without them; see
/// `Database::refresh_statistics`).
pub async fn seed_firms(
    services: &Services,
    firms: usize,
    contacts_per_firm: usize,
    mut progress: impl FnMut(usize),
) -> Result<usize, SeedError> {
    // One hash for everyone: hashing a million passwords would take days, and only
    // sign-in cares which hash it checks.
    let hash = services.hasher.hash(SEED_PASSWORD).await?;
    let mut created = 0;
    let numbers: Vec<usize> = (1..=firms).collect();
    // A hundred firms a transaction: one commit (and, on PostgreSQL, one fsync) for
    // each hundred, instead of one for each firm.
    for chunk in numbers.chunks(FIRMS_PER_TRANSACTION) {
        let txn = services.db.begin().await?;
        for &number in chunk {
            let slug_text = seeded_slug(number);
            let slug = TenantSlug::parse(&slug_text).map_err(TenancyError::from)?;
            if find_tenant_by_slug(&txn, &slug).await?.is_some() {
                continue;
            }
            let now = Utc::now();
            let admin_email = format!("admin@{slug_text}.test");
            let new = NewTenant::new(slug, &format!("Seeded Firm {number}"), &admin_email)?;
            let tenant = create_tenant(&txn, new, now).await?;
            let admin = NewStaffUser {
                email: parse(&admin_email),
                name: "Seeded Admin".to_owned(),
                role: StaffRole::Admin,
                password_hash: Some(hash.clone()),
            };
            create_staff_user(&txn, tenant.id, admin, now).await?;
            let client = create_client(&txn, tenant.id, "Seeded Client", now).await?;
            let people = (1..=contacts_per_firm)
                .map(|contact| NewContact {
                    client_id: client.id,
                    name: format!("Contact {contact}"),
                    email: parse(&seeded_contact_email(&slug_text, contact)),
                    locale: "en".to_owned(),
                    password_hash: Some(hash.clone()),
                })
                .collect();
            import_contacts(&txn, tenant.id, client.id, people, now).await?;
            created += 1;
        }
        txn.commit().await?;
        if let Some(&last) = chunk.last() {
            progress(last);
        }
    }
    services.db.refresh_statistics().await?;
    Ok(created)
}

fn parse(address: &str) -> EmailAddress {
    EmailAddress::parse(address).expect("seeded addresses are well-formed")
}
