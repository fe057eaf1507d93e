//! What the query planner knows of table sizes: PostgreSQL is told after a bulk load;
//! SQLite is never given statistics that would go stale.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::{Scratch, scratch_on};

async fn add_notes(db: &impl ConnectionTrait, ids: std::ops::Range<u32>) {
    let values: Vec<String> = ids.map(|id| format!("({id}, 'note {id}')")).collect();
    db.execute_unprepared(&format!(
        "INSERT INTO notes (id, body) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
}

/// A scratch database on `backend` holding the notes `ids`, if the tests run on it.
async fn notes_on(backend: DbBackend, ids: std::ops::Range<u32>) -> Option<Scratch> {
    let scratch = scratch_on(backend).await?;
    add_notes(&scratch.db, ids).await;
    Some(scratch)
}

#[tokio::test]
async fn after_a_bulk_load_postgres_knows_the_tables_sizes() {
    let Some(scratch) = notes_on(DbBackend::Postgres, 0..1000).await else {
        return;
    };
    let db = &scratch.db;

    db.refresh_statistics().await.unwrap();

    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT CAST(reltuples AS BIGINT) AS n FROM pg_class WHERE oid = to_regclass('notes')",
        ))
        .await
        .unwrap()
        .expect("the table is known");
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1000);
}

/// Statistics taken while a table is small would make SQLite scan it once it has
/// grown, as it never refreshes them by itself.
#[tokio::test]
async fn sqlite_finds_rows_of_a_grown_table_by_their_index_after_a_refresh() {
    // One row, as a queue holds one request when the server has just started.
    let Some(scratch) = notes_on(DbBackend::Sqlite, 0..1).await else {
        return;
    };
    let db = &scratch.db;
    // Used through its index first, as a running server uses its tables: SQLite's
    // `optimize` analyses the tables whose indexes queries have used.
    let touch = "UPDATE notes SET body = body || '.' WHERE id IN (0)";
    db.execute_unprepared(touch).await.unwrap();
    db.refresh_statistics().await.unwrap();
    add_notes(db, 2..2000).await;

    let plan: Vec<String> = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "EXPLAIN QUERY PLAN UPDATE notes SET body = body || '.' WHERE id IN (3, 5)",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get::<String>("", "detail").unwrap())
        .collect();
    assert!(
        plan.iter().all(|step| !step.starts_with("SCAN")),
        "the update scans the table: {plan:?}"
    );
}
