//! Staff users, clients, contacts, sessions, and the events that rate limits count.

use sea_orm_migration::prelude::{
    ColumnDef, DbErr, DeriveIden, DeriveMigrationName, ForeignKey, ForeignKeyAction,
    ForeignKeyCreateStatement, Index, MigrationTrait, SchemaManager, Table, async_trait, sea_orm,
};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum StaffUsers {
    Table,
    Id,
    TenantId,
    Email,
    Name,
    Role,
    Status,
    PasswordHash,
    LastSignInAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    TenantId,
    Name,
    NameKey,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
    TenantId,
    ClientId,
    Name,
    Email,
    Locale,
    Status,
    PasswordHash,
    MustChangePassword,
    LastSignInAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TenantId,
    AccountKind,
    AccountId,
    TokenHash,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum RateLimitEvents {
    Table,
    Id,
    Bucket,
    CreatedAt,
}

fn tenant_key(
    table: impl sea_orm::Iden + 'static,
    column: impl sea_orm::Iden + 'static,
    name: &str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StaffUsers::Table)
                    .col(
                        ColumnDef::new(StaffUsers::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(StaffUsers::TenantId).uuid().not_null())
                    .col(ColumnDef::new(StaffUsers::Email).string_len(320).not_null())
                    .col(ColumnDef::new(StaffUsers::Name).string_len(200).not_null())
                    .col(ColumnDef::new(StaffUsers::Role).string_len(16).not_null())
                    .col(ColumnDef::new(StaffUsers::Status).string_len(16).not_null())
                    .col(
                        ColumnDef::new(StaffUsers::PasswordHash)
                            .string_len(255)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(StaffUsers::LastSignInAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(StaffUsers::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(StaffUsers::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut tenant_key(
                        StaffUsers::Table,
                        StaffUsers::TenantId,
                        "fk_staff_users_tenant",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_staff_users_tenant_email")
                    .table(StaffUsers::Table)
                    .col(StaffUsers::TenantId)
                    .col(StaffUsers::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(ColumnDef::new(Clients::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Clients::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Clients::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Clients::NameKey).string_len(200).not_null())
                    .col(ColumnDef::new(Clients::Status).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Clients::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Clients::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut tenant_key(
                        Clients::Table,
                        Clients::TenantId,
                        "fk_clients_tenant",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_clients_tenant_name_key")
                    .table(Clients::Table)
                    .col(Clients::TenantId)
                    .col(Clients::NameKey)
                    .col(Clients::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Contacts::Table)
                    .col(ColumnDef::new(Contacts::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Contacts::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Contacts::ClientId).uuid().not_null())
                    .col(ColumnDef::new(Contacts::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Contacts::Email).string_len(320).not_null())
                    .col(ColumnDef::new(Contacts::Locale).string_len(8).not_null())
                    .col(ColumnDef::new(Contacts::Status).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Contacts::PasswordHash)
                            .string_len(255)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Contacts::MustChangePassword)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Contacts::LastSignInAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Contacts::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Contacts::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut tenant_key(
                        Contacts::Table,
                        Contacts::TenantId,
                        "fk_contacts_tenant",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contacts_client")
                            .from(Contacts::Table, Contacts::ClientId)
                            .to(Clients::Table, Clients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_contacts_tenant_email")
                    .table(Contacts::Table)
                    .col(Contacts::TenantId)
                    .col(Contacts::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_contacts_client")
                    .table(Contacts::Table)
                    .col(Contacts::ClientId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Sessions::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(Sessions::AccountKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Sessions::AccountId).uuid().not_null())
                    .col(
                        ColumnDef::new(Sessions::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Sessions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::LastSeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Sessions::ExpiresAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut tenant_key(
                        Sessions::Table,
                        Sessions::TenantId,
                        "fk_sessions_tenant",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_account")
                    .table(Sessions::Table)
                    .col(Sessions::TenantId)
                    .col(Sessions::AccountKind)
                    .col(Sessions::AccountId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RateLimitEvents::Table)
                    .col(
                        ColumnDef::new(RateLimitEvents::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RateLimitEvents::Bucket)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RateLimitEvents::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limit_events_bucket_time")
                    .table(RateLimitEvents::Table)
                    .col(RateLimitEvents::Bucket)
                    .col(RateLimitEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }
}
