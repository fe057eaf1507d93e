//! The audit trail of accounts: what happened to a contact or staff user, who did
//! it, from which address, and when. Written in the same transaction as the change it
//! describes, so the trail never claims what did not happen.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use tenancy::{AccountRef, ContactId, StaffUserId, TenantId};
use uuid::Uuid;

use crate::IdentityError;
use crate::entity::audit_event;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    ResetRequested,
    ResetEmailQueued,
    ResetEmailSent,
    ResetEmailFailed,
    LinkOpened,
    LinkRedeemed,
    LinkExpired,
    LinkReused,
    PasswordChanged,
    TemporaryPasswordSent,
    Invited,
}

impl AuditAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ResetRequested => "reset-requested",
            Self::ResetEmailQueued => "reset-email-queued",
            Self::ResetEmailSent => "reset-email-sent",
            Self::ResetEmailFailed => "reset-email-failed",
            Self::LinkOpened => "link-opened",
            Self::LinkRedeemed => "link-redeemed",
            Self::LinkExpired => "link-expired",
            Self::LinkReused => "link-reused",
            Self::PasswordChanged => "password-changed",
            Self::TemporaryPasswordSent => "temporary-password-sent",
            Self::Invited => "invited",
        }
    }

    /// How the staff's history view words it.
    pub fn describe(raw: &str) -> &'static str {
        match raw {
            "reset-requested" => "Password reset requested",
            "reset-email-queued" => "Reset email queued",
            "reset-email-sent" => "Reset email sent",
            "reset-email-failed" => "Reset email failed",
            "link-opened" => "Reset link opened",
            "link-redeemed" => "Reset link used",
            "link-expired" => "Expired link opened",
            "link-reused" => "Used link opened again",
            "password-changed" => "Password changed",
            "temporary-password-sent" => "Temporary password sent",
            "invited" => "Invited",
            _ => "Other",
        }
    }
}

/// Who did it: a staff user, the account holder, or the system (the worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Staff(StaffUserId),
    Contact(ContactId),
    System,
    /// Someone who was not signed in (a "Forgot your password?" request).
    Anonymous,
}

impl From<AccountRef> for Actor {
    /// The account holder acting on their own account.
    fn from(account: AccountRef) -> Self {
        match account {
            AccountRef::Staff(id) => Self::Staff(id),
            AccountRef::Contact(id) => Self::Contact(id),
        }
    }
}

impl Actor {
    fn parts(&self) -> (&'static str, Option<Uuid>) {
        match self {
            Self::Staff(id) => ("staff", Some(id.as_uuid())),
            Self::Contact(id) => ("contact", Some(id.as_uuid())),
            Self::System => ("system", None),
            Self::Anonymous => ("anonymous", None),
        }
    }
}

/// One entry of the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Time-ordered (UUIDv7), so it doubles as the paging cursor.
    pub id: Uuid,
    pub action: String,
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    pub subject_kind: String,
    pub subject_id: Uuid,
    pub client_address: Option<String>,
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<audit_event::Model> for AuditEvent {
    fn from(row: audit_event::Model) -> Self {
        Self {
            id: row.id,
            action: row.action,
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            subject_kind: row.subject_kind,
            subject_id: row.subject_id,
            client_address: row.client_address,
            detail: row.detail,
            created_at: row.created_at,
        }
    }
}

/// An event to record; build it and pass it to [`record_audit`].
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub action: AuditAction,
    pub actor: Actor,
    pub subject: AccountRef,
    pub client_address: Option<String>,
    pub detail: Option<String>,
}

pub async fn record_audit(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    event: NewAuditEvent,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    let (actor_kind, actor_id) = event.actor.parts();
    audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant.as_uuid()),
        action: Set(event.action.as_str().to_owned()),
        actor_kind: Set(actor_kind.to_owned()),
        actor_id: Set(actor_id),
        subject_kind: Set(event.subject.kind().as_str().to_owned()),
        subject_id: Set(event.subject.as_uuid()),
        client_address: Set(event.client_address),
        detail: Set(event
            .detail
            .map(|detail| detail.chars().take(500).collect())),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The newest `limit` events about one account, newest first.
pub async fn account_history(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    subject: AccountRef,
    limit: u64,
) -> Result<Vec<AuditEvent>, IdentityError> {
    Ok(audit_event::Entity::find()
        .filter(audit_event::Column::TenantId.eq(tenant.as_uuid()))
        .filter(audit_event::Column::SubjectKind.eq(subject.kind().as_str()))
        .filter(audit_event::Column::SubjectId.eq(subject.as_uuid()))
        .order_by_desc(audit_event::Column::CreatedAt)
        .order_by_desc(audit_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(AuditEvent::from)
        .collect())
}

/// One page of a firm's trail, newest first: the events older than `before` (an
/// event id), at most `limit` (1 to 1,000).
pub async fn firm_audit_events(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<AuditEvent>, IdentityError> {
    let mut query = audit_event::Entity::find()
        .filter(audit_event::Column::TenantId.eq(tenant.as_uuid()))
        .order_by_desc(audit_event::Column::Id)
        .limit(limit.clamp(1, 1_000));
    if let Some(before) = before {
        query = query.filter(audit_event::Column::Id.lt(before));
    }
    Ok(query
        .all(db)
        .await?
        .into_iter()
        .map(AuditEvent::from)
        .collect())
}
