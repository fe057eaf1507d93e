//! The database handle and group commit, on SQLite and (with
//! `LATCHKEY_TEST_DATABASE_URL`) on PostgreSQL.

mod concurrency;
mod group_commit;
mod statistics;

use sea_orm::{ConnectionTrait, DbBackend};
use storage::Database;

/// A database with one table, `notes (id, body UNIQUE)`, alive as long as the value.
#[derive(Debug)]
pub struct Scratch {
    pub db: Database,
    pub url: String,
    _folder: Option<tempfile::TempDir>,
}

pub async fn scratch() -> Scratch {
    let (url, folder) = match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let schema = format!("s_{}", std::process::id()) + &format!("_{}", rand_suffix());
            let admin = storage::connect(&base, 1).await.unwrap();
            admin
                .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await
                .unwrap();
            admin.close().await.unwrap();
            let separator = if base.contains('?') { '&' } else { '?' };
            (
                format!("{base}{separator}options=-c%20search_path%3D{schema}"),
                None,
            )
        }
        _ => {
            let folder = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/scratch.db?mode=rwc", folder.path().display());
            (url, Some(folder))
        }
    };
    let db = storage::connect(&url, 5).await.unwrap();
    db.execute_unprepared(
        "CREATE TABLE notes (id BIGINT PRIMARY KEY, body VARCHAR(200) NOT NULL UNIQUE)",
    )
    .await
    .unwrap();
    Scratch {
        db,
        url,
        _folder: folder,
    }
}

/// A scratch database when the tests run on `backend`, for what only it does.
pub async fn scratch_on(backend: DbBackend) -> Option<Scratch> {
    let scratch = scratch().await;
    (scratch.db.backend() == backend).then_some(scratch)
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{nanos}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub async fn count_notes(db: &impl ConnectionTrait) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM notes",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}
