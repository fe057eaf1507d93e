//! "Find your firm": the queue of requests for the list of firms where an address has
//! an account, and the one look-up that reads across firms.
//!
//! The platform page only appends a request, the same work whatever the address, so
//! neither its answer nor its timing tells which addresses exist; the worker looks
//! the address up and emails the list to that address alone.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use tenancy::TenantId;
use uuid::Uuid;

use crate::entity::{contact, firm_lookup, staff_user};
use crate::{AccountKind, EmailAddress, IdentityError};

/// One queued request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmLookup {
    pub id: Uuid,
    /// Normalised; the list goes to this address only, as it is the one looked up.
    pub email: String,
    pub client_address: Option<String>,
    pub requested_at: DateTime<Utc>,
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

pub async fn record_firm_lookup(
    db: &impl ConnectionTrait,
    email: &EmailAddress,
    client_address: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    firm_lookup::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.as_str().to_owned()),
        client_address: Set(client_address),
        requested_at: Set(now),
        processed_at: Set(None),
        outcome: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The oldest unprocessed requests, at most `limit`.
pub async fn pending_firm_lookups(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<FirmLookup>, IdentityError> {
    Ok(firm_lookup::Entity::find()
        .filter(firm_lookup::Column::ProcessedAt.is_null())
        .order_by_asc(firm_lookup::Column::RequestedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| FirmLookup {
            id: row.id,
            email: row.email,
            client_address: row.client_address,
            requested_at: row.requested_at,
        })
        .collect())
}

/// Marks a request done. Returns false when another worker got there first; the
/// caller then rolls its transaction back so that nothing is sent twice.
pub async fn finish_firm_lookup(
    db: &impl ConnectionTrait,
    id: Uuid,
    outcome: LookupOutcome,
    now: DateTime<Utc>,
) -> Result<bool, IdentityError> {
    let result = firm_lookup::Entity::update_many()
        .col_expr(firm_lookup::Column::ProcessedAt, Expr::value(now))
        .col_expr(firm_lookup::Column::Outcome, Expr::value(outcome.as_str()))
        .filter(firm_lookup::Column::Id.eq(id))
        .filter(firm_lookup::Column::ProcessedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// How many lists went to `email` since `since`, for the per-address limit.
pub async fn count_sent_firm_lookups(
    db: &impl ConnectionTrait,
    email: &str,
    since: DateTime<Utc>,
) -> Result<u64, IdentityError> {
    Ok(firm_lookup::Entity::find()
        .filter(firm_lookup::Column::Email.eq(email))
        .filter(firm_lookup::Column::Outcome.eq(LookupOutcome::Sent.as_str()))
        .filter(firm_lookup::Column::ProcessedAt.gt(since))
        .count(db)
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
    let contacts: Vec<Uuid> = contact::Entity::find()
        .select_only()
        .column(contact::Column::TenantId)
        .filter(contact::Column::Email.eq(email.as_str()))
        .filter(contact::Column::Status.ne("disabled"))
        .into_tuple()
        .all(db)
        .await?;
    let staff: Vec<Uuid> = staff_user::Entity::find()
        .select_only()
        .column(staff_user::Column::TenantId)
        .filter(staff_user::Column::Email.eq(email.as_str()))
        .filter(staff_user::Column::Status.ne("disabled"))
        .into_tuple()
        .all(db)
        .await?;
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
