//! The write path under load.
//!
//! - Rate limits become one counter per bucket and window (`rate_limit_counters`),
//!   updated by one upsert, instead of a row per event counted with `COUNT(*)`. The
//!   old events are dropped: a limit starts afresh once, at the upgrade.
//! - The queues of "Forgot your password?", "Find your firm" and access requests
//!   retry a request that fails, with backoff, and set it aside after a few attempts
//!   (`attempts`, `next_attempt_at`, `last_error`), so one bad request never stops
//!   the others. Access requests are now only recorded by the page; telling the
//!   firm's staff became queue work (`notified_at`, `notify_outcome`). Requests made
//!   before the upgrade had their staff told at once, so they count as notified.
//! - A reset token remembers in which state its opening was last written to the
//!   audit trail (`seen_state`), so opening a link writes once per state, not once
//!   per request.

use sea_orm_migration::prelude::{
    ColumnDef, DbErr, DeriveIden, DeriveMigrationName, Expr, Index, IntoIden, MigrationTrait,
    Query, SchemaManager, Table, async_trait, sea_orm,
};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum RateLimitCounters {
    Table,
    Bucket,
    WindowStart,
    Hits,
}

#[derive(DeriveIden)]
enum RateLimitEvents {
    Table,
}

#[derive(DeriveIden)]
enum ResetRequests {
    Table,
}

#[derive(DeriveIden)]
enum FirmLookups {
    Table,
}

#[derive(DeriveIden)]
enum AccessRequests {
    Table,
    CreatedAt,
    NotifiedAt,
    NotifyOutcome,
}

#[derive(DeriveIden)]
enum ResetTokens {
    Table,
    SeenState,
}

/// The columns every retried queue gets.
#[derive(DeriveIden)]
enum Retry {
    Attempts,
    NextAttemptAt,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// SQLite too runs this in one transaction: half an upgrade would leave queues
    /// the code cannot read.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimitCounters::Table)
                    // SHA-256 of the bucket's name, so no address is stored in clear.
                    .col(
                        ColumnDef::new(RateLimitCounters::Bucket)
                            .string_len(64)
                            .not_null(),
                    )
                    // Seconds since the epoch at which the window began.
                    .col(
                        ColumnDef::new(RateLimitCounters::WindowStart)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RateLimitCounters::Hits)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RateLimitCounters::Bucket)
                            .col(RateLimitCounters::WindowStart),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limit_counters_window")
                    .table(RateLimitCounters::Table)
                    .col(RateLimitCounters::WindowStart)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(RateLimitEvents::Table).to_owned())
            .await?;

        for table in [
            ResetRequests::Table.into_iden(),
            FirmLookups::Table.into_iden(),
            AccessRequests::Table.into_iden(),
        ] {
            // One column an ALTER: SQLite takes no more.
            for column in [
                ColumnDef::new(Retry::Attempts)
                    .integer()
                    .not_null()
                    .default(0)
                    .to_owned(),
                ColumnDef::new(Retry::NextAttemptAt)
                    .timestamp_with_time_zone()
                    .null()
                    .to_owned(),
                ColumnDef::new(Retry::LastError).text().null().to_owned(),
            ] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(table.clone())
                            .add_column(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        for column in [
            ColumnDef::new(AccessRequests::NotifiedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(AccessRequests::NotifyOutcome)
                .string_len(32)
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AccessRequests::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .exec_stmt(
                Query::update()
                    .table(AccessRequests::Table)
                    .value(
                        AccessRequests::NotifiedAt,
                        Expr::col(AccessRequests::CreatedAt),
                    )
                    .value(AccessRequests::NotifyOutcome, "sent")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_access_requests_notify")
                    .table(AccessRequests::Table)
                    .col(AccessRequests::NotifiedAt)
                    .col(AccessRequests::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(ResetTokens::Table)
                    .add_column(ColumnDef::new(ResetTokens::SeenState).string_len(16).null())
                    .to_owned(),
            )
            .await
    }
}
