//! After a bulk load the planner knows how big the tables are.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::scratch;

#[tokio::test]
async fn refreshing_statistics_tells_the_planner_the_tables_sizes() {
    let scratch = scratch().await;
    let db = &scratch.db;
    let backend = db.backend();
    let values: Vec<String> = (0..1000).map(|id| format!("({id}, 'note {id}')")).collect();
    db.execute_unprepared(&format!(
        "INSERT INTO notes (id, body) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();

    db.refresh_statistics().await.unwrap();

    let known_rows = match backend {
        DbBackend::Postgres => {
            "SELECT CAST(reltuples AS BIGINT) AS n FROM pg_class \
             WHERE oid = to_regclass('notes')"
        }
        // `optimize` analyses a table with indexes that was never analysed.
        _ => {
            "SELECT CAST(substr(stat, 1, instr(stat, ' ') - 1) AS INTEGER) AS n \
              FROM sqlite_stat1 WHERE tbl = 'notes' LIMIT 1"
        }
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, known_rows))
        .await
        .unwrap()
        .expect("the table has statistics");
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1000);
}
