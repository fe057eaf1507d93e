//! "Find your firm": the queue of requests for the list of firms where an address has
//! an account, and the one look-up that reads across firms.
//!
//! The platform page only appends a request, the same work whatever the address, so
//! neither its answer nor its timing tells which addresses exist; the worker looks
//! the address up and emails the list to that address alone. Failures are retried,
//! then set aside ([`storage::WorkQueue`]).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set};
use storage::{Failure, QueueDepth, RetryPolicy, WorkQueue};
use tenancy::{AccountKind, TenantId};
use uuid::Uuid;

use crate::contacts::CONTACTS;
use crate::entity::firm_lookup::{self, Column, Entity};
use crate::entity::{contact, staff_user};
use crate::firm_rows::{AccountTable, DISABLED};
use crate::staff::STAFF;
use crate::{EmailAddress, IdentityError};

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
pub struct NewFirmLookup {
    pub email: EmailAddress,
    pub client_address: Option<String>,
}

/// One queued request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmLookup {
    pub id: Uuid,
    /// Normalised; the list goes to this address only, as it is the one looked up.
    pub email: String,
    pub client_address: Option<String>,
    pub requested_at: DateTime<Utc>,
    /// Failed attempts so far.
    pub attempts: i32,
    pub last_error: Option<String>,
}

impl From<firm_lookup::Model> for FirmLookup {
    fn from(row: firm_lookup::Model) -> Self {
        Self {
            id: row.id,
            email: row.email,
            client_address: row.client_address,
            requested_at: row.requested_at,
            attempts: row.attempts,
            last_error: row.last_error,
        }
    }
}

/// What the worker did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupOutcome {
    /// The list was queued for the address.
    Sent,
    /// No firm has an account with this address: nothing is sent.
    NoAccount,
    /// The address already had its share of lists in the window.
    Limited,
}

impl LookupOutcome {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::NoAccount => "no-account",
            Self::Limited => "limited",
        }
    }
}

/// Queues requests, all in one statement.
pub async fn record_firm_lookups(
    db: &impl ConnectionTrait,
    lookups: &[NewFirmLookup],
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    if lookups.is_empty() {
        return Ok(());
    }
    let rows = lookups.iter().map(|lookup| firm_lookup::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(lookup.email.as_str().to_owned()),
        client_address: Set(lookup.client_address.clone()),
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
pub async fn pending_firm_lookups(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<FirmLookup>, IdentityError> {
    let rows = QUEUE.due_rows::<Entity>(db, now, limit).await?;
    Ok(rows.into_iter().map(FirmLookup::from).collect())
}

/// Records that handling `lookup` failed with `error`: retried later, or set aside.
pub async fn fail_firm_lookup(
    db: &impl ConnectionTrait,
    lookup: &FirmLookup,
    error: &str,
    now: DateTime<Utc>,
    policy: RetryPolicy,
) -> Result<Failure, IdentityError> {
    Ok(QUEUE
        .record_failure::<Entity>(db, lookup.id, lookup.attempts, error, now, policy)
        .await?)
}

/// Requests set aside after their last attempt failed, newest first.
pub async fn failed_firm_lookups(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<FirmLookup>, IdentityError> {
    let rows = QUEUE.set_aside_rows::<Entity>(db, limit).await?;
    Ok(rows.into_iter().map(FirmLookup::from).collect())
}

/// Puts a set-aside request back in the queue; false when `id` is not one.
pub async fn requeue_firm_lookup(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<bool, IdentityError> {
    Ok(QUEUE.put_back::<Entity>(db, id).await?)
}

/// How many requests wait, and how many were set aside.
pub async fn firm_lookup_depth(db: &impl ConnectionTrait) -> Result<QueueDepth, IdentityError> {
    Ok(QUEUE.depth::<Entity>(db).await?)
}

/// Marks a request done. Returns false when another worker got there first; the
/// caller then rolls its transaction back so that nothing is sent twice.
pub async fn finish_firm_lookup(
    db: &impl ConnectionTrait,
    id: Uuid,
    outcome: LookupOutcome,
    now: DateTime<Utc>,
) -> Result<bool, IdentityError> {
    Ok(QUEUE
        .finish::<Entity>(db, id, outcome.as_str(), now)
        .await?)
}

/// An account somewhere: which firm, and whether it is staff or a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountAt {
    pub tenant_id: TenantId,
    pub kind: AccountKind,
}

/// Every firm where `email` has an account that is not disabled.
///
/// The only read of accounts that does not take a firm: it exists for "Find your
/// firm", whose answer is emailed to this very address, and it returns firms, never
/// account data.
pub async fn accounts_by_email(
    db: &impl ConnectionTrait,
    email: &EmailAddress,
) -> Result<Vec<AccountAt>, IdentityError> {
    let contacts = firms_with_account::<contact::Entity>(db, CONTACTS, email).await?;
    let staff = firms_with_account::<staff_user::Entity>(db, STAFF, email).await?;
    let at = |kind: AccountKind| {
        move |id: Uuid| AccountAt {
            tenant_id: TenantId::from_uuid(id),
            kind,
        }
    };
    Ok(staff
        .into_iter()
        .map(at(AccountKind::Staff))
        .chain(contacts.into_iter().map(at(AccountKind::Contact)))
        .collect())
}

/// The firms where `email` has an account in `table` that is not disabled.
async fn firms_with_account<E: EntityTrait>(
    db: &impl ConnectionTrait,
    table: AccountTable<E::Column>,
    email: &EmailAddress,
) -> Result<Vec<Uuid>, DbErr> {
    E::find()
        .select_only()
        .column(table.firm.tenant_id)
        .filter(table.email.eq(email.as_str()))
        .filter(table.status.ne(DISABLED))
        .into_tuple()
        .all(db)
        .await
}
