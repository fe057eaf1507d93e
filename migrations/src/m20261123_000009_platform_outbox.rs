//! Platform mail and the audit of deliveries: an outbox message may belong to no firm
//! (the "Find your firm" list speaks for the platform), and may name the account it
//! is about, so its delivery can be written to that account's audit trail.
//!
//! PostgreSQL drops the NOT NULL in place. SQLite cannot, so there the table is
//! rebuilt with the same columns, keys and indexes, and its rows copied over.

use sea_orm_migration::prelude::{
    ColumnDef, DbErr, DeriveIden, DeriveMigrationName, ForeignKey, ForeignKeyAction, Index,
    MigrationTrait, SchemaManager, Table, async_trait, sea_orm,
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
    SubjectId,
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

/// The columns copied by the SQLite rebuild, in one order for both tables.
const COPIED: &str = "id, tenant_id, kind, recipient, subject, html_body, text_body, status, \
                      attempts, next_attempt_at, last_error, lease_expires_at, message_id, \
                      created_at, sent_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(
                "ALTER TABLE outbox_messages ALTER COLUMN tenant_id DROP NOT NULL",
            )
            .await?;
            db.execute_unprepared("ALTER TABLE outbox_messages ADD COLUMN subject_id uuid NULL")
                .await?;
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "ALTER TABLE outbox_messages RENAME TO outbox_messages_before_000009",
        )
        .await?;
        // Index names are global in SQLite: the old ones go before the new ones come.
        for index in [
            "idx_outbox_messages_due",
            "idx_outbox_messages_created",
            "idx_outbox_messages_recipient",
        ] {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {index}"))
                .await?;
        }
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
                    .col(ColumnDef::new(OutboxMessages::TenantId).uuid().null())
                    .col(ColumnDef::new(OutboxMessages::SubjectId).uuid().null())
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
        db.execute_unprepared(&format!(
            "INSERT INTO outbox_messages ({COPIED}) SELECT {COPIED} FROM outbox_messages_before_000009"
        ))
        .await?;
        db.execute_unprepared("DROP TABLE outbox_messages_before_000009")
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
