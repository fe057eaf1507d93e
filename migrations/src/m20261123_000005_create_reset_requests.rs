//! "Forgot your password?" requests, queued for the worker so that the web request
//! does the same work whether or not the address has an account.

use sea_orm_migration::prelude::{
    ColumnDef, DbErr, DeriveIden, DeriveMigrationName, ForeignKey, ForeignKeyAction, Index,
    MigrationTrait, SchemaManager, Table, async_trait, sea_orm,
};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ResetRequests {
    Table,
    Id,
    TenantId,
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
                    .table(ResetRequests::Table)
                    .col(
                        ColumnDef::new(ResetRequests::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ResetRequests::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(ResetRequests::Email)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResetRequests::ClientAddress)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ResetRequests::RequestedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResetRequests::ProcessedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(ResetRequests::Outcome).string_len(32).null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reset_requests_tenant")
                            .from(ResetRequests::Table, ResetRequests::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reset_requests_pending")
                    .table(ResetRequests::Table)
                    .col(ResetRequests::ProcessedAt)
                    .col(ResetRequests::RequestedAt)
                    .to_owned(),
            )
            .await
    }
}
