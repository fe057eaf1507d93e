//! "Find your firm" requests, queued for the worker so that the platform page does
//! the same work whether or not the address has an account anywhere.

use sea_orm_migration::prelude::{
    ColumnDef, DbErr, DeriveIden, DeriveMigrationName, Index, MigrationTrait, SchemaManager, Table,
    async_trait, sea_orm,
};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Email,
}

#[derive(DeriveIden)]
enum StaffUsers {
    Table,
    Email,
}

#[derive(DeriveIden)]
enum FirmLookups {
    Table,
    Id,
    Email,
    ClientAddress,
    RequestedAt,
    ProcessedAt,
    Outcome,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FirmLookups::Table)
                    .col(
                        ColumnDef::new(FirmLookups::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(FirmLookups::Email)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FirmLookups::ClientAddress)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(FirmLookups::RequestedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FirmLookups::ProcessedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(FirmLookups::Outcome).string_len(32).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_firm_lookups_pending")
                    .table(FirmLookups::Table)
                    .col(FirmLookups::ProcessedAt)
                    .col(FirmLookups::RequestedAt)
                    .to_owned(),
            )
            .await?;
        // For the per-address limit: how many lists an address was sent lately.
        manager
            .create_index(
                Index::create()
                    .name("idx_firm_lookups_email")
                    .table(FirmLookups::Table)
                    .col(FirmLookups::Email)
                    .col(FirmLookups::ProcessedAt)
                    .to_owned(),
            )
            .await?;
        // The look-up across firms: the per-firm indexes start with the firm.
        manager
            .create_index(
                Index::create()
                    .name("idx_contacts_email")
                    .table(Contacts::Table)
                    .col(Contacts::Email)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_staff_users_email")
                    .table(StaffUsers::Table)
                    .col(StaffUsers::Email)
                    .to_owned(),
            )
            .await
    }
}
