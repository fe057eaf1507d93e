//! Test databases: each test gets its own empty, migrated database.
//!
//! Without `LATCHKEY_TEST_DATABASE_URL` that is a SQLite file in a temporary folder, so
//! `cargo test` needs no service. With it, each test gets a fresh PostgreSQL schema in
//! that database, so tests run in parallel without seeing each other's rows.

use sea_orm_migration::MigratorTrait;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use storage::Database;

use crate::Migrator;

/// The variable that points the tests at PostgreSQL.
pub const TEST_DATABASE_URL_VAR: &str = "LATCHKEY_TEST_DATABASE_URL";

/// A migrated database that lives as long as this value.
#[derive(Debug)]
pub struct TestDatabase {
    /// The database to use: on SQLite its writer and readers, as the binary opens it.
    pub connection: Database,
    /// A URL that opens the same database, for code that connects by itself (the
    /// gateway binary, the CLI).
    pub url: String,
    _folder: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// Which kind of database the tests run on.
    pub fn backend(&self) -> DbBackend {
        self.connection.backend()
    }
}

/// A new, empty database with every migration applied.
///
/// # Panics
/// When the database cannot be created; a test cannot go on without one.
pub async fn fresh_database() -> TestDatabase {
    let database = empty_database().await;
    Migrator::up(database.connection.writer(), None)
        .await
        .expect("migrations apply to an empty database");
    database
}

/// A new database with no tables at all, for tests of the migrations themselves.
///
/// # Panics
/// When the database cannot be created.
pub async fn empty_database() -> TestDatabase {
    match std::env::var(TEST_DATABASE_URL_VAR) {
        Ok(base_url) if !base_url.is_empty() => postgres_schema(&base_url).await,
        _ => sqlite_file().await,
    }
}

async fn sqlite_file() -> TestDatabase {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}/test.db?mode=rwc", folder.path().display());
    let connection = storage::connect(&url, 5)
        .await
        .expect("SQLite opens a new file");
    TestDatabase {
        connection,
        url,
        _folder: Some(folder),
    }
}

async fn postgres_schema(base_url: &str) -> TestDatabase {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = storage::connect(base_url, 1)
        .await
        .unwrap_or_else(|error| panic!("{TEST_DATABASE_URL_VAR} is set but unreachable: {error}"));
    admin
        .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .expect("a test schema can be created");
    admin.close().await.ok();

    let separator = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
    let connection = storage::connect(&url, 5)
        .await
        .expect("the test schema opens");
    TestDatabase {
        connection,
        url,
        _folder: None,
    }
}
