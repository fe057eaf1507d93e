//! The email outbox: every message, written in the transaction of the change that
//! caused it, until the worker has delivered it or given up on it.

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
enum OutboxMessages {
    Table,
    Id,
    TenantId,
    Kind,
    Recipient,
    Subject,
    HtmlBody,
    TextBody,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    LeaseExpiresAt,
    MessageId,
    CreatedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutboxMessages::Table)
                    .col(
                        ColumnDef::new(OutboxMessages::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OutboxMessages::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(OutboxMessages::Kind)
                            .string_len(48)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutboxMessages::Recipient)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutboxMessages::Subject)
                            .string_len(300)
                            .not_null(),
                    )
                    .col(ColumnDef::new(OutboxMessages::HtmlBody).text().not_null())
                    .col(ColumnDef::new(OutboxMessages::TextBody).text().not_null())
                    .col(
                        ColumnDef::new(OutboxMessages::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutboxMessages::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutboxMessages::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutboxMessages::LastError)
                            .string_len(1000)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OutboxMessages::LeaseExpiresAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OutboxMessages::MessageId)
                            .string_len(255)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(OutboxMessages::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OutboxMessages::SentAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_messages_tenant")
                            .from(OutboxMessages::Table, OutboxMessages::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_messages_due")
                    .table(OutboxMessages::Table)
                    .col(OutboxMessages::Status)
                    .col(OutboxMessages::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        // Operators list the outbox newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_messages_created")
                    .table(OutboxMessages::Table)
                    .col(OutboxMessages::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_messages_recipient")
                    .table(OutboxMessages::Table)
                    .col(OutboxMessages::TenantId)
                    .col(OutboxMessages::Recipient)
                    .col(OutboxMessages::CreatedAt)
                    .to_owned(),
            )
            .await
    }
}
