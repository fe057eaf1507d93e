//! "Request your credential": people asking a firm for an account.

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
enum AccessRequests {
    Table,
    Id,
    TenantId,
    Name,
    Email,
    Company,
    Message,
    Status,
    DecidedBy,
    DecidedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccessRequests::Table)
                    .col(
                        ColumnDef::new(AccessRequests::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AccessRequests::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(AccessRequests::Name)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessRequests::Email)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessRequests::Company)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessRequests::Message)
                            .string_len(2000)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccessRequests::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AccessRequests::DecidedBy).uuid().null())
                    .col(
                        ColumnDef::new(AccessRequests::DecidedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AccessRequests::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_access_requests_tenant")
                            .from(AccessRequests::Table, AccessRequests::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_access_requests_tenant_status")
                    .table(AccessRequests::Table)
                    .col(AccessRequests::TenantId)
                    .col(AccessRequests::Status)
                    .col(AccessRequests::CreatedAt)
                    .to_owned(),
            )
            .await
    }
}
