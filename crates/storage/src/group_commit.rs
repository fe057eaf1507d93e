//! Group commit: many requests that only record something share one transaction.
//!
//! A request hands its item to [`GroupCommit::submit`] and waits. One task takes every
//! item that arrived meanwhile (up to a batch's size), writes them all in one
//! transaction with as few statements as the [`Batch`] can manage, commits, and only
//! then answers each request. Nobody is told "done" before their row is durable, so a
//! process that dies loses nothing anybody was told; and a thousand requests cost a
//! handful of statements and one commit instead of a thousand of each.
//!
//! While one batch commits the next one gathers, so the batches grow with the load
//! and a lone request waits for no timer.
//!
//! If a whole batch fails (one item breaks a constraint, say), its items are written
//! again one transaction each, so that one bad item fails alone.

use std::fmt;
use std::future::Future;

use sea_orm::{DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

use crate::{Database, Transaction};

/// The writes of one kind of item.
pub trait Batch: Send + Sync + 'static {
    type Item: Send + Sync + 'static;
    type Answer: Send + 'static;

    /// Writes every item in `txn` and answers each, in order: exactly one answer per
    /// item. An error rolls the whole batch back.
    fn write(
        &self,
        txn: &Transaction,
        items: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<Self::Answer>, DbErr>> + Send;
}

/// Why an item was not recorded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GroupCommitError {
    /// Its transaction failed; the detail is for the log, never for a page.
    #[error("the database refused the write: {0}")]
    Database(String),
    /// The writer task is gone (the process is stopping).
    #[error("the writer has stopped")]
    Stopped,
}

impl From<DbErr> for GroupCommitError {
    fn from(error: DbErr) -> Self {
        Self::Database(error.to_string())
    }
}

struct Pending<B: Batch> {
    item: B::Item,
    answer: oneshot::Sender<Result<B::Answer, GroupCommitError>>,
}

/// The handle requests submit through. Cheap to clone; the writer task stops once
/// every handle is dropped and the queue is empty.
pub struct GroupCommit<B: Batch> {
    sender: mpsc::Sender<Pending<B>>,
}

impl<B: Batch> Clone for GroupCommit<B> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
        }
    }
}

impl<B: Batch> fmt::Debug for GroupCommit<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupCommit")
            .field(
                "queued",
                &(self.sender.max_capacity() - self.sender.capacity()),
            )
            .finish()
    }
}

/// How much a writer takes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitLimits {
    /// Items written in one transaction at most.
    pub max_batch: usize,
    /// Items waiting at most; further submitters wait for room.
    pub max_queued: usize,
}

impl Default for GroupCommitLimits {
    fn default() -> Self {
        Self {
            max_batch: 512,
            max_queued: 8192,
        }
    }
}

impl<B: Batch> GroupCommit<B> {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Database, batch: B, limits: GroupCommitLimits) -> Self {
        let (sender, receiver) = mpsc::channel(limits.max_queued.max(1));
        tokio::spawn(write_batches(db, batch, receiver, limits.max_batch.max(1)));
        Self { sender }
    }

    /// Records `item` and returns its answer once the transaction holding it has
    /// committed.
    pub async fn submit(&self, item: B::Item) -> Result<B::Answer, GroupCommitError> {
        let (answer, answered) = oneshot::channel();
        self.sender
            .send(Pending { item, answer })
            .await
            .map_err(|_| GroupCommitError::Stopped)?;
        answered.await.map_err(|_| GroupCommitError::Stopped)?
    }
}

async fn write_batches<B: Batch>(
    db: Database,
    batch: B,
    mut receiver: mpsc::Receiver<Pending<B>>,
    max_batch: usize,
) {
    let mut pending = Vec::with_capacity(max_batch);
    while receiver.recv_many(&mut pending, max_batch).await > 0 {
        let (items, answers): (Vec<_>, Vec<_>) = pending
            .drain(..)
            .map(|Pending { item, answer }| (item, answer))
            .unzip();
        match write_committed(&db, &batch, &items).await {
            Ok(results) => {
                for (answer, result) in answers.into_iter().zip(results) {
                    // A requester that went away needs no answer; its row stays.
                    let _ = answer.send(Ok(result));
                }
            }
            Err(error) if items.len() == 1 => {
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
            Err(error) => {
                tracing::warn!(%error, items = items.len(), "a batch failed; writing its items one by one");
                for (item, answer) in items.into_iter().zip(answers) {
                    let result = write_committed(&db, &batch, std::slice::from_ref(&item))
                        .await
                        .and_then(|mut results| results.pop().ok_or_else(missing_answer));
                    let _ = answer.send(result);
                }
            }
        }
    }
}

async fn write_committed<B: Batch>(
    db: &Database,
    batch: &B,
    items: &[B::Item],
) -> Result<Vec<B::Answer>, GroupCommitError> {
    let txn = db.begin().await?;
    match batch.write(&txn, items).await {
        Ok(results) if results.len() == items.len() => {
            txn.commit().await?;
            Ok(results)
        }
        Ok(_) => {
            txn.rollback().await?;
            Err(missing_answer())
        }
        Err(error) => {
            txn.rollback().await?;
            Err(error.into())
        }
    }
}

fn missing_answer() -> GroupCommitError {
    GroupCommitError::Database("a batch answered a different number of items".to_owned())
}
