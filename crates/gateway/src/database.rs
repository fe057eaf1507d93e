//! Opening the configured database and bringing its schema up to date.

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use secrecy::ExposeSecret;

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

pub async fn open(settings: &Settings) -> Result<DatabaseConnection, DatabaseError> {
    let url = settings.database.url.expose_secret();
    migrations::connect(url, settings.database.max_connections)
        .await
        .map_err(|source| DatabaseError::Open {
            url: redact_url(url),
            source,
        })
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<usize, DatabaseError> {
    let pending = Migrator::get_pending_migrations(db)
        .await
        .map_err(DatabaseError::Migrate)?
        .len();
    Migrator::up(db, None)
        .await
        .map_err(DatabaseError::Migrate)?;
    Ok(pending)
}

/// In development the schema follows the code by itself; elsewhere migrating is a
/// deliberate step (`latchkey migrate`), and a behind schema stops the command.
pub async fn prepare_schema(
    db: &DatabaseConnection,
    settings: &Settings,
) -> Result<(), DatabaseError> {
    if settings.environment == Environment::Development {
        let applied = migrate(db).await?;
        if applied > 0 {
            tracing::info!(applied, "applied database migrations");
        }
        return Ok(());
    }
    let pending = Migrator::get_pending_migrations(db)
        .await
        .map_err(DatabaseError::Migrate)?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(DatabaseError::Behind(pending.len()))
    }
}

/// Whether the database answers a trivial query, for `/readyz`.
pub async fn is_reachable(db: &DatabaseConnection) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}
