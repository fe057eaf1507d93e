//! The database underneath every crate: opening it, SQLite's single writer beside
//! its readers, and group commit for writes that many requests share.
//!
//! Architecture invariant: nothing above this crate opens a connection or begins a
//! transaction on anything but a [`Database`], so on SQLite no two writes ever race
//! for the lock.

mod database;
mod error_text;
mod group_commit;
mod outage;
mod work_queue;

pub use database::{Database, Transaction, connect};
pub use error_text::error_chain;
pub use group_commit::{Batch, GroupCommit, GroupCommitError, GroupCommitLimits};
pub use outage::is_unreachable;
pub use work_queue::{FAILED, Failure, QueueDepth, RetryPolicy, WorkQueue};
