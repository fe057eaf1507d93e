//! Every schema change of Latchkey, forward-only, one file each.
//!
//! Migrations name their tables and columns with local `Iden` enums instead of the
//! domain crates' entities, so an old migration keeps meaning what it meant when it
//! was written even after an entity changes.

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::{MigrationTrait, async_trait};

mod m20261123_000001_create_tenants;
mod m20261123_000002_create_identity;
mod m20261123_000003_create_outbox;
mod m20261123_000004_create_reset_tokens;
mod m20261123_000005_create_reset_requests;
mod m20261123_000006_create_audit_events;
mod m20261123_000007_create_access_requests;
mod m20261123_000008_tenant_lifecycle;
mod m20261123_000009_platform_outbox;
mod m20261123_000010_create_firm_lookups;
mod m20261202_000011_write_path;

#[cfg(feature = "testing")]
pub mod testing;

/// The ordered list of every migration; `Migrator::up(db, None)` brings a database
/// to the newest schema.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_tenants::Migration),
            Box::new(m20261123_000002_create_identity::Migration),
            Box::new(m20261123_000003_create_outbox::Migration),
            Box::new(m20261123_000004_create_reset_tokens::Migration),
            Box::new(m20261123_000005_create_reset_requests::Migration),
            Box::new(m20261123_000006_create_audit_events::Migration),
            Box::new(m20261123_000007_create_access_requests::Migration),
            Box::new(m20261123_000008_tenant_lifecycle::Migration),
            Box::new(m20261123_000009_platform_outbox::Migration),
            Box::new(m20261123_000010_create_firm_lookups::Migration),
            Box::new(m20261202_000011_write_path::Migration),
        ]
    }
}
