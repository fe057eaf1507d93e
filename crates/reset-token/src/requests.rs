//! The queue of "Forgot your password?" requests.
//!
//! The web handler only appends a row — the same work whether or not the address has
//! an account, so neither the page nor its timing says which addresses exist. The
//! worker takes rows in order, looks the account up, applies the per-address limit,
//! and mints and emails a token where one is due.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use tenancy::TenantId;
use uuid::Uuid;

use crate::TokenError;
use crate::entity::reset_request;

/// One queued request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRequest {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// The address as typed (normalised); only for the look-up.
    pub email: String,
    pub client_address: Option<String>,
    pub requested_at: DateTime<Utc>,
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

/// Queues a request.
pub async fn record_reset_request(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    email: &str,
    client_address: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), TokenError> {
    reset_request::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant.as_uuid()),
        email: Set(email.to_owned()),
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
pub async fn pending_reset_requests(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<ResetRequest>, TokenError> {
    Ok(reset_request::Entity::find()
        .filter(reset_request::Column::ProcessedAt.is_null())
        .order_by_asc(reset_request::Column::RequestedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| ResetRequest {
            id: row.id,
            tenant_id: TenantId::from_uuid(row.tenant_id),
            email: row.email,
            client_address: row.client_address,
            requested_at: row.requested_at,
        })
        .collect())
}

/// Marks a request done. Returns false when another worker got there first, in which
/// case the caller must roll its transaction back so nothing is sent twice.
pub async fn finish_reset_request(
    db: &impl ConnectionTrait,
    id: Uuid,
    outcome: RequestOutcome,
    now: DateTime<Utc>,
) -> Result<bool, TokenError> {
    let result = reset_request::Entity::update_many()
        .col_expr(reset_request::Column::ProcessedAt, Expr::value(now))
        .col_expr(
            reset_request::Column::Outcome,
            Expr::value(outcome.as_str()),
        )
        .filter(reset_request::Column::Id.eq(id))
        .filter(reset_request::Column::ProcessedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// How many reset emails an address was sent since `since` (for the per-address limit).
pub async fn count_sent_requests(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    email: &str,
    since: DateTime<Utc>,
) -> Result<u64, TokenError> {
    use sea_orm::PaginatorTrait;
    Ok(reset_request::Entity::find()
        .filter(reset_request::Column::TenantId.eq(tenant.as_uuid()))
        .filter(reset_request::Column::Email.eq(email))
        .filter(reset_request::Column::Outcome.eq(RequestOutcome::Sent.as_str()))
        .filter(reset_request::Column::ProcessedAt.gt(since))
        .count(db)
        .await?)
}
