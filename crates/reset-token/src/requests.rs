//! The queue of "Forgot your password?" requests.
//!
//! The web handler only appends a row — the same work whether or not the address has
//! an account, so neither the page nor its timing says which addresses exist. The
//! worker takes rows in order, looks the account up, applies the per-address limit,
//! and mints and emails a token where one is due. A request whose handling fails is
//! retried with backoff and, after a few attempts, set aside for an operator
//! ([`storage::WorkQueue`]), so it never holds up the requests behind it.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, EntityTrait, Set};
use storage::{Failure, QueueDepth, RetryPolicy, WorkQueue};
use tenancy::TenantId;
use uuid::Uuid;

use crate::TokenError;
use crate::entity::reset_request::{self, Column, Entity};

/// The queue's columns.
const QUEUE: WorkQueue<Column> = WorkQueue {
    id: Column::Id,
    queued_at: Column::RequestedAt,
    done_at: Column::ProcessedAt,
    outcome: Column::Outcome,
    attempts: Column::Attempts,
    next_attempt_at: Column::NextAttemptAt,
    last_error: Column::LastError,
};

/// A request as the page records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResetRequest {
    pub tenant_id: TenantId,
    /// The address as typed (normalised); only for the look-up.
    pub email: String,
    pub client_address: Option<String>,
}

/// One queued request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRequest {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// The address as typed (normalised); only for the look-up.
    pub email: String,
    pub client_address: Option<String>,
    pub requested_at: DateTime<Utc>,
    /// Failed attempts so far.
    pub attempts: i32,
    pub last_error: Option<String>,
}

impl From<reset_request::Model> for ResetRequest {
    fn from(row: reset_request::Model) -> Self {
        Self {
            id: row.id,
            tenant_id: TenantId::from_uuid(row.tenant_id),
            email: row.email,
            client_address: row.client_address,
            requested_at: row.requested_at,
            attempts: row.attempts,
            last_error: row.last_error,
        }
    }
}

/// What the worker did with a request, kept for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A reset email was queued for the account.
    Sent,
    /// No active account has this address.
    NoAccount,
    /// The address already had its share of emails in the window.
    Limited,
}

impl RequestOutcome {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::NoAccount => "no-account",
            Self::Limited => "limited",
        }
    }
}

/// Queues requests, all in one statement.
pub async fn record_reset_requests(
    db: &impl ConnectionTrait,
    requests: &[NewResetRequest],
    now: DateTime<Utc>,
) -> Result<(), TokenError> {
    if requests.is_empty() {
        return Ok(());
    }
    let rows = requests.iter().map(|request| reset_request::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(request.tenant_id.as_uuid()),
        email: Set(request.email.clone()),
        client_address: Set(request.client_address.clone()),
        requested_at: Set(now),
        processed_at: Set(None),
        outcome: Set(None),
        attempts: Set(0),
        next_attempt_at: Set(None),
        last_error: Set(None),
    });
    Entity::insert_many(rows).exec_without_returning(db).await?;
    Ok(())
}

/// The oldest requests due for handling, at most `limit`.
pub async fn pending_reset_requests(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<ResetRequest>, TokenError> {
    let rows = QUEUE.due_rows::<Entity>(db, now, limit).await?;
    Ok(rows.into_iter().map(ResetRequest::from).collect())
}

/// Marks a request done. Returns false when another worker got there first, in which
/// case the caller must roll its transaction back so nothing is sent twice.
pub async fn finish_reset_request(
    db: &impl ConnectionTrait,
    id: Uuid,
    outcome: RequestOutcome,
    now: DateTime<Utc>,
) -> Result<bool, TokenError> {
    Ok(QUEUE
        .finish::<Entity>(db, id, outcome.as_str(), now)
        .await?)
}

/// Marks many requests done with one outcome, in one statement, for outcomes that
/// send nothing (so a request another worker finished first needs no undoing).
pub async fn finish_reset_requests(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    outcome: RequestOutcome,
    now: DateTime<Utc>,
) -> Result<u64, TokenError> {
    Ok(QUEUE
        .finish_all::<Entity, _>(db, ids, outcome.as_str(), now)
        .await?)
}

/// Records that handling `request` failed with `error`: retried later, or set aside.
pub async fn fail_reset_request(
    db: &impl ConnectionTrait,
    request: &ResetRequest,
    error: &str,
    now: DateTime<Utc>,
    policy: RetryPolicy,
) -> Result<Failure, TokenError> {
    Ok(QUEUE
        .record_failure::<Entity>(db, request.id, request.attempts, error, now, policy)
        .await?)
}

/// Requests set aside after their last attempt failed, newest first.
pub async fn failed_reset_requests(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<ResetRequest>, TokenError> {
    let rows = QUEUE.set_aside_rows::<Entity>(db, limit).await?;
    Ok(rows.into_iter().map(ResetRequest::from).collect())
}

/// Puts a set-aside request back in the queue; false when `id` is not one.
pub async fn requeue_reset_request(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<bool, TokenError> {
    Ok(QUEUE.put_back::<Entity>(db, id).await?)
}

/// How many requests wait, and how many were set aside.
pub async fn reset_request_depth(db: &impl ConnectionTrait) -> Result<QueueDepth, TokenError> {
    Ok(QUEUE.depth::<Entity>(db).await?)
}
