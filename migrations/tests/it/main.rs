//! The migrations against a real database.

use migrations::testing::empty_database;
use migrations::{Migrator, MigratorTrait};

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_are_idempotent() {
    let database = empty_database().await;
    let db = &database.connection;
    let pending = Migrator::get_pending_migrations(db.writer())
        .await
        .unwrap()
        .len();
    assert_eq!(pending, Migrator::migrations().len());
    Migrator::up(db.writer(), None).await.unwrap();
    assert!(
        Migrator::get_pending_migrations(db.writer())
            .await
            .unwrap()
            .is_empty()
    );
    Migrator::up(db.writer(), None).await.unwrap();
    assert_eq!(
        Migrator::get_applied_migrations(db).await.unwrap().len(),
        pending
    );
}

/// 000009 rebuilds `outbox_messages` on SQLite: the rows queued before it must
/// survive, and deleting a firm must still remove its messages.
#[tokio::test]
async fn the_platform_outbox_migration_keeps_queued_mail_and_the_cascade() {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

    let database = empty_database().await;
    let db = &database.connection;
    let backend = db.get_database_backend();
    let before_000009 = Migrator::migrations()
        .iter()
        .position(|migration| migration.name().contains("000009"))
        .unwrap();
    Migrator::up(db.writer(), Some(u32::try_from(before_000009).unwrap()))
        .await
        .unwrap();
    let run = |sql: &str| {
        let sql = sql.to_owned();
        async move {
            db.execute_raw(Statement::from_string(backend, sql))
                .await
                .unwrap();
        }
    };
    let tenant = "0190a000-0000-7000-8000-000000000001";
    let message = "0190a000-0000-7000-8000-000000000002";
    let now = "2026-11-23 10:00:00+00:00";
    run(&format!(
        "INSERT INTO tenants (id, slug, display_name, status, admin_email, canonical_domain, \
         settings, created_at, updated_at) VALUES ('{tenant}', 'acme', 'ACME', 'active', \
         'a@acme.test', NULL, '{{}}', '{now}', '{now}')"
    ))
    .await;
    run(&format!(
        "INSERT INTO outbox_messages (id, tenant_id, kind, recipient, subject, html_body, \
         text_body, status, attempts, next_attempt_at, created_at) VALUES ('{message}', \
         '{tenant}', 'password_reset', 'ann@acme.test', 'Password Reset', '<p>hi</p>', 'hi', \
         'queued', 0, '{now}', '{now}')"
    ))
    .await;

    Migrator::up(db.writer(), None).await.unwrap();
    let count = |sql: &'static str| async move {
        db.query_one_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap()
    };
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM outbox_messages WHERE subject_id IS NULL AND text_body = 'hi'").await,
        1,
        "the queued message survived"
    );
    // Platform mail: no firm.
    run(&format!(
        "INSERT INTO outbox_messages (id, tenant_id, kind, recipient, subject, html_body, \
         text_body, status, attempts, next_attempt_at, created_at) VALUES \
         ('0190a000-0000-7000-8000-000000000003', NULL, 'find_your_firm', 'ann@acme.test', \
         'Your client portals', '', '', 'queued', 0, '{now}', '{now}')"
    ))
    .await;
    run(&format!("DELETE FROM tenants WHERE id = '{tenant}'")).await;
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM outbox_messages").await,
        1,
        "the firm's message went with it; the platform's stayed"
    );
}
