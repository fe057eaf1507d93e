//! Opening the database: embedded SQLite (file created on first use, WAL mode) or
//! PostgreSQL, chosen by the URL's scheme.

use std::path::Path;
use std::time::Duration;

use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
};

/// Opens a pool on `url`.
///
/// For a SQLite file the parent directory is created first, because SQLite creates the
/// file but not the folders above it, and the database is switched to WAL so that
/// readers never wait for the single writer.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let sqlite_folder = sqlite_file_path(url)
        .and_then(|path| Path::new(path).parent())
        .filter(|folder| !folder.as_os_str().is_empty());
    if let Some(folder) = sqlite_folder {
        std::fs::create_dir_all(folder).map_err(|error| {
            DbErr::Custom(format!(
                "cannot create the folder {} for the SQLite database: {error}",
                folder.display()
            ))
        })?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections.max(1))
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL").await?;
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    }
    Ok(db)
}

/// The file behind a `sqlite:` URL, or `None` for PostgreSQL and in-memory databases.
fn sqlite_file_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:" && !rest.contains("mode=memory")).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::sqlite_file_path;

    #[test]
    fn finds_the_file_behind_sqlite_urls() {
        assert_eq!(
            sqlite_file_path("sqlite://data/latchkey.db?mode=rwc"),
            Some("data/latchkey.db")
        );
        assert_eq!(
            sqlite_file_path("sqlite:///var/lib/l.db"),
            Some("/var/lib/l.db")
        );
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
        assert_eq!(sqlite_file_path("sqlite://x?mode=memory"), None);
        assert_eq!(sqlite_file_path("postgres://postgres@127.0.0.1/test"), None);
    }
}
