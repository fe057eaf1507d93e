//! Reset, invitation and temporary-password tokens: only their HMAC is stored.

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
enum ResetTokens {
    Table,
    Id,
    TenantId,
    Purpose,
    AccountKind,
    AccountId,
    TokenHash,
    State,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ResetTokens::Table)
                    .col(
                        ColumnDef::new(ResetTokens::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ResetTokens::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(ResetTokens::Purpose)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResetTokens::AccountKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ResetTokens::AccountId).uuid().not_null())
                    .col(
                        ColumnDef::new(ResetTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ResetTokens::State).string_len(16).not_null())
                    .col(
                        ColumnDef::new(ResetTokens::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResetTokens::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResetTokens::ConsumedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reset_tokens_tenant")
                            .from(ResetTokens::Table, ResetTokens::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reset_tokens_account")
                    .table(ResetTokens::Table)
                    .col(ResetTokens::TenantId)
                    .col(ResetTokens::AccountKind)
                    .col(ResetTokens::AccountId)
                    .col(ResetTokens::State)
                    .to_owned(),
            )
            .await
    }
}
