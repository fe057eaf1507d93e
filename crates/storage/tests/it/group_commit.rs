//! Group commit: shared transactions, answers only after the commit, and one bad
//! item failing alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sea_orm::{ConnectionTrait, DbErr, Statement, Value};
use storage::{Batch, GroupCommit, GroupCommitError, GroupCommitLimits, Transaction};

use crate::{Scratch, count_notes, scratch};

/// Inserts notes with one multi-row INSERT per batch, counting its transactions.
#[derive(Debug, Default)]
struct Notes {
    batches: Arc<AtomicUsize>,
}

impl Batch for Notes {
    type Item = (i64, String);
    type Answer = i64;

    async fn write(&self, txn: &Transaction, items: &[(i64, String)]) -> Result<Vec<i64>, DbErr> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        let backend = txn.get_database_backend();
        let mut values: Vec<Value> = Vec::new();
        let placeholders: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(index, (id, body))| {
                values.push((*id).into());
                values.push(body.clone().into());
                match backend {
                    sea_orm::DbBackend::Postgres => {
                        format!("(${}, ${})", 2 * index + 1, 2 * index + 2)
                    }
                    _ => "(?, ?)".to_owned(),
                }
            })
            .collect();
        let sql = format!(
            "INSERT INTO notes (id, body) VALUES {}",
            placeholders.join(", ")
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        Ok(items.iter().map(|(id, _)| *id).collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_requests_share_few_transactions_and_all_are_answered() {
    let scratch = scratch().await;
    let batches = Arc::new(AtomicUsize::new(0));
    let writer = GroupCommit::start(
        scratch.db.clone(),
        Notes {
            batches: batches.clone(),
        },
        GroupCommitLimits::default(),
    );
    let requests: Vec<_> = (0..500_i64)
        .map(|id| {
            let writer = writer.clone();
            let db = scratch.db.clone();
            tokio::spawn(async move {
                let answer = writer.submit((id, format!("note {id}"))).await.unwrap();
                // Answered means committed: any connection sees the row now.
                let row = db
                    .query_one_raw(Statement::from_string(
                        db.get_database_backend(),
                        format!("SELECT id FROM notes WHERE id = {id}"),
                    ))
                    .await
                    .unwrap();
                assert!(row.is_some(), "note {id} is visible once answered");
                answer
            })
        })
        .collect();
    let mut answers = Vec::new();
    for request in requests {
        answers.push(request.await.unwrap());
    }
    answers.sort_unstable();
    assert_eq!(answers, (0..500).collect::<Vec<_>>());
    assert_eq!(count_notes(&scratch.db).await, 500);
    let used = batches.load(Ordering::SeqCst);
    assert!(used < 250, "{used} transactions for 500 items");
}

/// A writer of notes with the default limits.
fn notes_writer(scratch: &Scratch) -> GroupCommit<Notes> {
    GroupCommit::start(
        scratch.db.clone(),
        Notes::default(),
        GroupCommitLimits::default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_item_fails_alone() {
    let scratch = scratch().await;
    let writer = notes_writer(&scratch);
    writer.submit((0, "taken".to_owned())).await.unwrap();
    let requests: Vec<_> = (1..=100_i64)
        .map(|id| {
            let writer = writer.clone();
            // Note 50 repeats a body that exists: the UNIQUE index refuses it.
            let body = if id == 50 {
                "taken".to_owned()
            } else {
                format!("note {id}")
            };
            tokio::spawn(async move { (id, writer.submit((id, body)).await) })
        })
        .collect();
    for request in requests {
        let (id, result) = request.await.unwrap();
        match id {
            50 => assert!(
                matches!(result, Err(GroupCommitError::Database(_))),
                "{result:?}"
            ),
            _ => assert_eq!(result.unwrap(), id),
        }
    }
    assert_eq!(count_notes(&scratch.db).await, 100);
}

#[tokio::test]
async fn a_lone_request_is_answered_at_once() {
    let scratch = scratch().await;
    let writer = notes_writer(&scratch);
    let started = std::time::Instant::now();
    assert_eq!(writer.submit((7, "alone".to_owned())).await.unwrap(), 7);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}
