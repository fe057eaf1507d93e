//! The migrations against a real database.

use migrations::testing::empty_database;
use migrations::{Migrator, MigratorTrait};

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_are_idempotent() {
    let database = empty_database().await;
    let db = &database.connection;
    let pending = Migrator::get_pending_migrations(db).await.unwrap().len();
    assert_eq!(pending, Migrator::migrations().len());
    Migrator::up(db, None).await.unwrap();
    assert!(
        Migrator::get_pending_migrations(db)
            .await
            .unwrap()
            .is_empty()
    );
    Migrator::up(db, None).await.unwrap();
    assert_eq!(
        Migrator::get_applied_migrations(db).await.unwrap().len(),
        pending
    );
}
