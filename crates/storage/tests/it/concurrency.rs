//! Many writers at once: none fails because another is writing, and readers do not
//! wait for writers.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

use crate::{count_notes, scratch};

fn insert(db: &impl ConnectionTrait, id: i64, body: &str) -> Statement {
    Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => "INSERT INTO notes (id, body) VALUES ($1, $2)",
            _ => "INSERT INTO notes (id, body) VALUES (?, ?)",
        },
        [id.into(), body.into()],
    )
}

/// The shape that fails on a plain SQLite pool: read, think, then write, in one
/// transaction, from many tasks at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transactions_that_read_then_write_never_collide() {
    let scratch = scratch().await;
    let tasks: Vec<_> = (0..40_i64)
        .map(|task| {
            let db = scratch.db.clone();
            tokio::spawn(async move {
                for n in 0..10_i64 {
                    let txn = db.begin().await?;
                    let before = count_notes(&txn).await;
                    tokio::task::yield_now().await;
                    let id = task * 1000 + n;
                    txn.execute_raw(insert(&txn, id, &format!("note {id} after {before}")))
                        .await?;
                    txn.commit().await?;
                }
                Ok::<_, sea_orm::DbErr>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(count_notes(&scratch.db).await, 400);
}

/// Another process on the same file (a CLI command while the server runs) waits
/// for the lock instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_handle_on_the_same_database_waits_its_turn() {
    let scratch = scratch().await;
    let other = storage::connect(&scratch.url, 2).await.unwrap();
    let first = scratch.db.clone();
    let holder = tokio::spawn(async move {
        let txn = first.begin().await.unwrap();
        txn.execute_raw(insert(&txn, 1, "held")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        txn.commit().await.unwrap();
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let txn = other.begin().await.unwrap();
    txn.execute_raw(insert(&txn, 2, "waited")).await.unwrap();
    txn.commit().await.unwrap();
    holder.await.unwrap();
    assert_eq!(count_notes(&scratch.db).await, 2);
}

/// While a write transaction holds SQLite's one writer, reads still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_do_not_wait_for_an_open_write_transaction() {
    let scratch = scratch().await;
    scratch
        .db
        .execute_raw(insert(&scratch.db, 1, "committed"))
        .await
        .unwrap();
    let txn = scratch.db.begin().await.unwrap();
    txn.execute_raw(insert(&txn, 2, "not yet")).await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(2), count_notes(&scratch.db))
        .await
        .expect("a read answers while the writer is busy");
    assert_eq!(seen, 1, "only committed rows are seen");
    txn.commit().await.unwrap();
    assert_eq!(count_notes(&scratch.db).await, 2);
}
