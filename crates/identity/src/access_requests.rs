//! "Request your credential": a person asks a firm for an account; staff approve
//! (which creates the contact) or decline.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use storage::{Failure, QueueDepth, RetryPolicy, WorkQueue};
use tenancy::{StaffUserId, TenantId};
use uuid::Uuid;

use crate::entity::access_request;
use crate::error::clean_name;
use crate::firm_rows::{FirmTable, one_row};
use crate::{EmailAddress, IdentityError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRequestStatus {
    Pending,
    Approved,
    Declined,
}

impl AccessRequestStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Declined => "declined",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "declined" => Some(Self::Declined),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub name: String,
    pub email: EmailAddress,
    pub company: String,
    pub message: String,
    pub status: AccessRequestStatus,
    pub created_at: DateTime<Utc>,
}

/// What a person typed, checked.
#[derive(Debug, Clone)]
pub struct NewAccessRequest {
    pub name: String,
    pub email: EmailAddress,
    pub company: String,
    pub message: String,
}

impl NewAccessRequest {
    /// Checks the free-text fields; each error names the field.
    pub fn new(
        name: &str,
        email: EmailAddress,
        company: &str,
        message: &str,
    ) -> Result<Self, &'static str> {
        let name = clean_name(name).map_err(|_| "name")?;
        let company = company.trim();
        if company.chars().count() > 200 || company.chars().any(char::is_control) {
            return Err("company");
        }
        let message = message.trim();
        // Line breaks are welcome in a message; other control characters are not.
        if message.chars().count() > 2000
            || message
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r')
        {
            return Err("message");
        }
        Ok(Self {
            name,
            email,
            company: company.to_owned(),
            message: message.to_owned(),
        })
    }
}

/// Records requests, all in one statement. Telling each firm's staff is queue work
/// ([`pending_access_notices`]), so a page that records a request does nothing else.
pub async fn create_access_requests(
    db: &impl ConnectionTrait,
    requests: &[(TenantId, NewAccessRequest)],
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    if requests.is_empty() {
        return Ok(());
    }
    let rows = requests
        .iter()
        .map(|(tenant, new)| access_request::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant.as_uuid()),
            name: Set(new.name.clone()),
            email: Set(new.email.to_string()),
            company: Set(new.company.clone()),
            message: Set(new.message.clone()),
            status: Set(AccessRequestStatus::Pending.as_str().to_owned()),
            decided_by: Set(None),
            decided_at: Set(None),
            created_at: Set(now),
            notified_at: Set(None),
            notify_outcome: Set(None),
            attempts: Set(0),
            next_attempt_at: Set(None),
            last_error: Set(None),
        });
    access_request::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

const REQUESTS: FirmTable<access_request::Column> = FirmTable {
    tenant_id: access_request::Column::TenantId,
    id: access_request::Column::Id,
};

/// The queue of staff notices: a request whose firm's staff are still to be told.
const NOTICES: WorkQueue<access_request::Column> = WorkQueue {
    id: access_request::Column::Id,
    queued_at: access_request::Column::CreatedAt,
    done_at: access_request::Column::NotifiedAt,
    outcome: access_request::Column::NotifyOutcome,
    attempts: access_request::Column::Attempts,
    next_attempt_at: access_request::Column::NextAttemptAt,
    last_error: access_request::Column::LastError,
};

/// A request whose firm's staff are to be told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessNotice {
    pub request: AccessRequest,
    /// Failed attempts so far.
    pub attempts: i32,
    pub last_error: Option<String>,
}

fn to_notice(row: access_request::Model) -> Result<AccessNotice, IdentityError> {
    let attempts = row.attempts;
    let last_error = row.last_error.clone();
    Ok(AccessNotice {
        request: to_request(row)?,
        attempts,
        last_error,
    })
}

/// The oldest notices due, across firms (the processor's read), at most `limit`.
pub async fn pending_access_notices(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<AccessNotice>, IdentityError> {
    NOTICES
        .due_rows::<access_request::Entity>(db, now, limit)
        .await?
        .into_iter()
        .map(to_notice)
        .collect()
}

/// Marks the staff told. False when another processor got there first; the caller
/// then rolls back, so that staff are not told twice.
pub async fn finish_access_notice(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, IdentityError> {
    Ok(NOTICES
        .finish::<access_request::Entity>(db, id, "sent", now)
        .await?)
}

/// Records that telling the staff of `notice` failed: retried later, or set aside.
pub async fn fail_access_notice(
    db: &impl ConnectionTrait,
    notice: &AccessNotice,
    error: &str,
    now: DateTime<Utc>,
    policy: RetryPolicy,
) -> Result<Failure, IdentityError> {
    Ok(NOTICES
        .record_failure::<access_request::Entity>(
            db,
            notice.request.id,
            notice.attempts,
            error,
            now,
            policy,
        )
        .await?)
}

/// Notices set aside after their last attempt failed, newest first.
pub async fn failed_access_notices(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<AccessNotice>, IdentityError> {
    NOTICES
        .set_aside_rows::<access_request::Entity>(db, limit)
        .await?
        .into_iter()
        .map(to_notice)
        .collect()
}

/// Puts a set-aside notice back in the queue; false when `id` is not one.
pub async fn requeue_access_notice(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<bool, IdentityError> {
    Ok(NOTICES.put_back::<access_request::Entity>(db, id).await?)
}

/// How many notices wait, and how many were set aside.
pub async fn access_notice_depth(db: &impl ConnectionTrait) -> Result<QueueDepth, IdentityError> {
    Ok(NOTICES.depth::<access_request::Entity>(db).await?)
}

/// The firm's pending requests, oldest first.
pub async fn pending_access_requests(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    limit: u64,
) -> Result<Vec<AccessRequest>, IdentityError> {
    access_request::Entity::find()
        .filter(access_request::Column::TenantId.eq(tenant.as_uuid()))
        .filter(access_request::Column::Status.eq(AccessRequestStatus::Pending.as_str()))
        .order_by_asc(access_request::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(to_request)
        .collect()
}

pub async fn find_access_request(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<AccessRequest>, IdentityError> {
    REQUESTS
        .find::<access_request::Entity, _>(db, tenant, id, to_request)
        .await
}

/// Records the decision on a pending request; `NotFound` when it is not pending (or
/// not this firm's), so two staff deciding at once cannot both win.
pub async fn decide_access_request(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: Uuid,
    decision: AccessRequestStatus,
    staff_id: StaffUserId,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    let result = REQUESTS
        .update::<access_request::Entity>(tenant, id)
        .col_expr(
            access_request::Column::Status,
            Expr::value(decision.as_str()),
        )
        .col_expr(
            access_request::Column::DecidedBy,
            Expr::value(staff_id.as_uuid()),
        )
        .col_expr(access_request::Column::DecidedAt, Expr::value(now))
        .filter(access_request::Column::Status.eq(AccessRequestStatus::Pending.as_str()))
        .exec(db)
        .await?;
    one_row(result)
}

fn to_request(row: access_request::Model) -> Result<AccessRequest, IdentityError> {
    Ok(AccessRequest {
        id: row.id,
        tenant_id: TenantId::from_uuid(row.tenant_id),
        name: row.name,
        email: EmailAddress::from_stored(row.email),
        company: row.company,
        message: row.message,
        status: AccessRequestStatus::parse(&row.status).ok_or_else(|| {
            IdentityError::Corrupt(format!("access request status {}", row.status))
        })?,
        created_at: row.created_at,
    })
}
