//! Platform mail and the audit of deliveries: an outbox message may belong to no firm
//! (the "Find your firm" list speaks for the platform), and may name the account it
//! is about, so its delivery can be written to that account's audit trail.
//!
//! PostgreSQL drops the NOT NULL in place. SQLite cannot, so there the table is
//! rebuilt the way SQLite's manual prescribes (create the new table, copy the rows,
//! drop the old one, rename the new one, recreate the indexes), with the same
//! columns in the same order as PostgreSQL ends up with, the same key and the same
//! indexes as 000003.

use sea_orm_migration::prelude::{
    ColumnDef, DbErr, DeriveIden, DeriveMigrationName, ForeignKey, ForeignKeyAction, Index,
    MigrationTrait, Query, SchemaManager, Table, async_trait, sea_orm,
};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

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
    SubjectId,
}

/// The new table while it is being filled, before it takes the old one's name.
#[derive(DeriveIden)]
enum OutboxMessagesRebuilt {
    Table,
}

/// The columns of 000003, copied as they are by the SQLite rebuild.
const COPIED: [OutboxMessages; 15] = [
    OutboxMessages::Id,
    OutboxMessages::TenantId,
    OutboxMessages::Kind,
    OutboxMessages::Recipient,
    OutboxMessages::Subject,
    OutboxMessages::HtmlBody,
    OutboxMessages::TextBody,
    OutboxMessages::Status,
    OutboxMessages::Attempts,
    OutboxMessages::NextAttemptAt,
    OutboxMessages::LastError,
    OutboxMessages::LeaseExpiresAt,
    OutboxMessages::MessageId,
    OutboxMessages::CreatedAt,
    OutboxMessages::SentAt,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on SQLite too (sea-orm wraps only PostgreSQL by default):
    /// a rebuild that stopped half-way would leave the outbox missing or empty.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            // Raw SQL: sea-query's modify_column would also retype the column, which
            // the foreign key and the index on it do not need.
            db.execute_unprepared(
                "ALTER TABLE outbox_messages ALTER COLUMN tenant_id DROP NOT NULL",
            )
            .await?;
            db.execute_unprepared("ALTER TABLE outbox_messages ADD COLUMN subject_id uuid NULL")
                .await?;
            return Ok(());
        }
        manager
            .create_table(
                Table::create()
                    .table(OutboxMessagesRebuilt::Table)
                    .col(
                        ColumnDef::new(OutboxMessages::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(OutboxMessages::TenantId).uuid().null())
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
                    .col(ColumnDef::new(OutboxMessages::SubjectId).uuid().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_messages_tenant")
                            .from(OutboxMessagesRebuilt::Table, OutboxMessages::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .execute(
                Query::insert()
                    .into_table(OutboxMessagesRebuilt::Table)
                    .columns(COPIED)
                    .select_from(
                        Query::select()
                            .columns(COPIED)
                            .from(OutboxMessages::Table)
                            .to_owned(),
                    )
                    .map_err(|error| DbErr::Migration(error.to_string()))?
                    .to_owned(),
            )
            .await?;
        // Nothing references the outbox, so dropping it checks no foreign key, and
        // its indexes go with it, freeing their names (global in SQLite).
        manager
            .drop_table(Table::drop().table(OutboxMessages::Table).to_owned())
            .await?;
        manager
            .rename_table(
                Table::rename()
                    .table(OutboxMessagesRebuilt::Table, OutboxMessages::Table)
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
