//! Opening the configured database and bringing its schema up to date.

use migrations::{Migrator, MigratorTrait};
use sea_orm::DbErr;
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

/// Applies every pending migration.
pub async fn migrate(db: &Database) -> Result<usize, DatabaseError> {
    let pending = Migrator::get_pending_migrations(db.writer())
        .await
        .map_err(DatabaseError::Migrate)?
        .len();
    Migrator::up(db.writer(), None)
        .await
        .map_err(DatabaseError::Migrate)?;
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
