//! Opening the configured database and bringing its schema up to date.

use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use secrecy::ExposeSecret;
use storage::Database;

use crate::settings::{Environment, Settings, redact_url};

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: DbErr },
    #[error("cannot migrate the database: {0}")]
    Migrate(DbErr),
    #[error("the database schema is behind by {0} migration(s); run `latchkey migrate` first")]
    Behind(usize),
}

pub async fn open(settings: &Settings) -> Result<Database, DatabaseError> {
    let url = settings.database.url.expose_secret();
    storage::connect(url, settings.database.max_connections)
        .await
        .map_err(|source| DatabaseError::Open {
            url: redact_url(url),
            source,
        })
}

/// The PostgreSQL advisory lock that instances take in turns to change the schema or
/// the seed data at start-up ("latchkey" in ASCII). Advisory lock keys are shared by
/// the whole database, so this one is chosen not to collide with another program's.
const STARTUP_LOCK_KEY: i64 = 0x6c61_7463_686b_6579;

/// A transaction that only one instance at a time holds, across processes: on
/// PostgreSQL through an advisory lock held until the transaction ends, on SQLite
/// through the write lock that `BEGIN IMMEDIATE` takes. Instances that start together
/// on a new database run the start-up work one after the other, and each later one
/// finds it done: migrations applied, demo data present.
///
/// The work runs inside the transaction, on its one connection: with a separate
/// connection, a pool of one (or SQLite's single writer) would wait for itself. If
/// the process dies, the database ends the transaction and the lock goes with it.
#[derive(Debug)]
pub struct StartupLock {
    transaction: DatabaseTransaction,
}

impl StartupLock {
    /// Waits until no other instance holds the lock, then holds it.
    pub async fn acquire(db: &Database) -> Result<Self, DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let transaction = db.writer().begin_with_options(options).await?;
        if transaction.get_database_backend() == DbBackend::Postgres {
            transaction
                .execute_unprepared(&format!("SELECT pg_advisory_xact_lock({STARTUP_LOCK_KEY})"))
                .await?;
        }
        Ok(Self { transaction })
    }

    /// The connection to do the start-up work on while the lock is held.
    pub fn connection(&self) -> &DatabaseTransaction {
        &self.transaction
    }

    /// Keeps the work and lets the next instance in.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.transaction.commit().await
    }
}

/// Applies every pending migration; run by several instances at once, one applies
/// them and the others find nothing to do.
pub async fn migrate(db: &Database) -> Result<usize, DatabaseError> {
    let lock = StartupLock::acquire(db)
        .await
        .map_err(DatabaseError::Migrate)?;
    // Counted under the lock: before it, another instance may still be migrating.
    let pending = Migrator::get_pending_migrations(lock.connection())
        .await
        .map_err(DatabaseError::Migrate)?
        .len();
    Migrator::up(lock.connection(), None)
        .await
        .map_err(DatabaseError::Migrate)?;
    lock.commit().await.map_err(DatabaseError::Migrate)?;
    Ok(pending)
}

/// In development the schema follows the code by itself; elsewhere migrating is a
/// deliberate step (`latchkey migrate`), and a behind schema stops the command.
pub async fn prepare_schema(db: &Database, settings: &Settings) -> Result<(), DatabaseError> {
    if settings.environment == Environment::Development {
        let applied = migrate(db).await?;
        if applied > 0 {
            tracing::info!(applied, "applied database migrations");
        }
        return Ok(());
    }
    let pending = Migrator::get_pending_migrations(db.writer())
        .await
        .map_err(DatabaseError::Migrate)?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(DatabaseError::Behind(pending.len()))
    }
}
