//! Migration 000009 (platform outbox) on a database that already holds mail: the rows,
//! the indexes and the firm's cascade survive, on SQLite (where the table is rebuilt)
//! and on PostgreSQL (where it is altered).

use chrono::TimeDelta;
use migrations::testing::empty_database;
use migrations::{Migrator, MigratorTrait};
use notification::{
    FileMailbox, ManualClock, MessageFilter, OutboxMessageId, OutboxStatus, Transport, find_message,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use storage::Database;
use uuid::Uuid;

use crate::support::{enqueue_platform_list, listed_ids, t0, worker};

/// The names of the columns of a table, in order, with whether each may be NULL.
async fn columns(db: &Database) -> Vec<(String, bool)> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT column_name::text AS name, (is_nullable = 'YES') AS nullable \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name = 'outbox_messages' ORDER BY ordinal_position"
        }
        _ => {
            "SELECT name, \"notnull\" = 0 AS nullable FROM pragma_table_info('outbox_messages') \
             ORDER BY cid"
        }
    };
    rows(db, sql)
        .await
        .into_iter()
        .map(|row| {
            (
                row.try_get::<String>("", "name").unwrap(),
                row.try_get::<bool>("", "nullable").unwrap(),
            )
        })
        .collect()
}

/// Every index and foreign key of the outbox, as the database describes them.
async fn keys_and_indexes(db: &Database) -> Vec<String> {
    let queries: [&str; 2] = match db.get_database_backend() {
        DbBackend::Postgres => [
            "SELECT indexname::text || ': ' || indexdef AS line FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename = 'outbox_messages'",
            "SELECT pg_get_constraintdef(oid) AS line FROM pg_constraint \
             WHERE conrelid = 'outbox_messages'::regclass AND contype = 'f'",
        ],
        _ => [
            "SELECT name || ': ' || COALESCE(sql, '(primary key)') AS line FROM sqlite_master \
             WHERE type = 'index' AND tbl_name = 'outbox_messages'",
            "SELECT \"from\" || ' -> ' || \"table\" || '(' || \"to\" || ') ON DELETE ' \
             || on_delete AS line FROM pragma_foreign_key_list('outbox_messages')",
        ],
    };
    let mut lines = Vec::new();
    for sql in queries {
        for row in rows(db, sql).await {
            lines.push(row.try_get::<String>("", "line").unwrap());
        }
    }
    lines.sort();
    lines
}

async fn rows(db: &Database, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
}

/// Writes a row with the columns of 000003, through sea-query so that ids and times
/// are encoded as the entities encode them.
async fn insert(db: &Database, table: &str, values: Vec<(&str, Value)>) {
    let (names, values): (Vec<_>, Vec<_>) = values.into_iter().unzip();
    let mut statement = Query::insert();
    statement
        .into_table(Alias::new(table))
        .columns(names.into_iter().map(Alias::new))
        .values_panic(values.into_iter().map(Into::into));
    db.execute(&statement).await.unwrap();
}

fn message_row(
    id: Uuid,
    tenant: Uuid,
    status: &str,
    recipient: &str,
) -> Vec<(&'static str, Value)> {
    let sent = (status == "sent").then(|| t0() + TimeDelta::seconds(5));
    vec![
        ("id", id.into()),
        ("tenant_id", tenant.into()),
        ("kind", "password_reset".into()),
        ("recipient", recipient.into()),
        ("subject", "Password Reset".into()),
        ("html_body", "<p>the link</p>".into()),
        ("text_body", "the link".into()),
        ("status", status.into()),
        ("attempts", i32::from(sent.is_some()).into()),
        ("next_attempt_at", t0().into()),
        ("last_error", Option::<String>::None.into()),
        (
            "lease_expires_at",
            Option::<chrono::DateTime<chrono::Utc>>::None.into(),
        ),
        (
            "message_id",
            sent.map(|_| format!("<{id}@latchkey.test>")).into(),
        ),
        ("created_at", t0().into()),
        ("sent_at", sent.into()),
    ]
}

#[tokio::test]
async fn the_platform_outbox_migration_keeps_mail_indexes_and_the_cascade() {
    let database = empty_database().await;
    let db = &database.connection;
    Migrator::up(db.writer(), Some(8)).await.unwrap();
    let next = Migrator::get_pending_migrations(db.writer()).await.unwrap();
    assert!(next[0].name().contains("000009"), "{}", next[0].name());

    let tenant = Uuid::now_v7();
    insert(
        db,
        "tenants",
        vec![
            ("id", tenant.into()),
            ("slug", "acme".into()),
            ("display_name", "ACME Accountants".into()),
            ("status", "active".into()),
            ("admin_email", "admin@acme.test".into()),
            ("canonical_domain", Option::<String>::None.into()),
            ("settings", "{}".into()),
            ("created_at", t0().into()),
            ("updated_at", t0().into()),
        ],
    )
    .await;
    let queued = Uuid::now_v7();
    let sent = Uuid::now_v7();
    insert(
        db,
        "outbox_messages",
        message_row(queued, tenant, "queued", "ann@client.test"),
    )
    .await;
    insert(
        db,
        "outbox_messages",
        message_row(sent, tenant, "sent", "bob@client.test"),
    )
    .await;
    let before = keys_and_indexes(db).await;
    assert_eq!(before.len(), 5, "{before:?}");

    Migrator::up(db.writer(), None).await.unwrap();

    assert_eq!(keys_and_indexes(db).await, before);
    let after = columns(db).await;
    let names: Vec<&str> = after.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "tenant_id",
            "kind",
            "recipient",
            "subject",
            "html_body",
            "text_body",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "lease_expires_at",
            "message_id",
            "created_at",
            "sent_at",
            "subject_id",
        ],
        "the same order on both databases"
    );
    let nullable = |column: &str| after.iter().any(|(name, null)| name == column && *null);
    assert!(nullable("tenant_id") && nullable("subject_id"));
    assert!(!nullable("recipient"));

    let old_sent = find_message(db, OutboxMessageId::from_uuid(sent))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old_sent.status, OutboxStatus::Sent);
    assert_eq!(old_sent.tenant_id.map(|id| id.as_uuid()), Some(tenant));
    assert_eq!(old_sent.subject_id, None);
    assert_eq!(old_sent.sent_at, Some(t0() + TimeDelta::seconds(5)));
    assert_eq!(old_sent.message_id, Some(format!("<{sent}@latchkey.test>")));

    // The message queued before the rebuild is delivered whole, from its firm.
    let folder = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_at(t0());
    let worker = worker(db, Transport::file(folder.path()), &clock);
    assert_eq!(worker.deliver_due().await.unwrap().sent, 1);
    let delivered = FileMailbox::new(folder.path())
        .read(&queued.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivered.html, "<p>the link</p>");
    assert_eq!(delivered.entry.tenant, "acme");

    // Platform mail now fits, and deleting the firm still takes its mail only.
    let platform = enqueue_platform_list(db).await;
    let mut delete = Query::delete();
    delete
        .from_table(Alias::new("tenants"))
        .and_where(Expr::col(Alias::new("id")).eq(tenant));
    db.execute(&delete).await.unwrap();
    assert_eq!(listed_ids(db, MessageFilter::all()).await, [platform.id]);
}

/// SQLite only, where the rebuild takes several statements: one that fails (here a
/// row whose firm is missing, as a database written with foreign keys off may hold)
/// must leave the old table as it was, so that the migration can run again.
#[tokio::test]
async fn a_failed_sqlite_rebuild_changes_nothing() {
    let database = empty_database().await;
    let db = &database.connection;
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    Migrator::up(db.writer(), Some(8)).await.unwrap();
    // One connection, so the pragma holds for the insert.
    let unchecked = storage::connect(&database.url, 1).await.unwrap();
    unchecked
        .execute_unprepared("PRAGMA foreign_keys = OFF")
        .await
        .unwrap();
    let orphan = Uuid::now_v7();
    insert(
        &unchecked,
        "outbox_messages",
        message_row(orphan, Uuid::now_v7(), "queued", "ann@client.test"),
    )
    .await;
    unchecked.close().await.unwrap();

    assert!(Migrator::up(db.writer(), None).await.is_err());
    let tables: Vec<String> = rows(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'outbox%'",
    )
    .await
    .into_iter()
    .map(|row| row.try_get::<String>("", "name").unwrap())
    .collect();
    assert_eq!(tables, ["outbox_messages"]);
    assert!(
        columns(db)
            .await
            .iter()
            .all(|(name, _)| name != "subject_id")
    );
    assert_eq!(rows(db, "SELECT id FROM outbox_messages").await.len(), 1);
    let next = Migrator::get_pending_migrations(db.writer()).await.unwrap();
    assert!(next[0].name().contains("000009"), "{}", next[0].name());
}
