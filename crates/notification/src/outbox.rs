//! The transactional outbox: messages are written in the caller's transaction and
//! move `queued` -> `sending` -> `sent`, or back to `queued` for a retry, or to
//! `dead` when delivery gives up.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use storage::Database;
use tenancy::TenantId;
use uuid::Uuid;

use crate::NotificationError;
use crate::email::{EmailKind, RenderedEmail};
use crate::entity::outbox_message::{self, Column, Entity};

/// The longest stored error text; the column holds 1000 characters.
const MAX_ERROR_CHARS: usize = 900;
const MAX_SUBJECT_CHARS: usize = 300;
const MAX_RECIPIENT_CHARS: usize = 320;

/// The key of an outbox message.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutboxMessageId(Uuid);

impl OutboxMessageId {
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for OutboxMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for OutboxMessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OutboxMessageId({})", self.0)
    }
}

impl FromStr for OutboxMessageId {
    type Err = uuid::Error;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(raw.trim()).map(Self)
    }
}

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutboxStatus {
    /// Waiting for its first attempt or for a retry.
    Queued,
    /// Claimed by a worker until its lease expires.
    Sending,
    Sent,
    /// Given up on; shown to operators, who may retry it.
    Dead,
}

impl OutboxStatus {
    pub const ALL: [OutboxStatus; 4] = [Self::Queued, Self::Sending, Self::Sent, Self::Dead];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }
}

impl fmt::Display for OutboxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`enqueue`] wrote; hand it to [`crate::DeliveryWaker::notify`] once the
/// transaction has committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedMessage {
    pub id: OutboxMessageId,
    pub kind: EmailKind,
}

/// An outbox message as operators see it. The bodies are left out: they hold reset
/// links and temporary passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: OutboxMessageId,
    /// `None` for platform mail.
    pub tenant_id: Option<TenantId>,
    /// The account the message is about, where one was named.
    pub subject_id: Option<Uuid>,
    /// The kind's name; an unknown one would come from a newer version.
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub status: OutboxStatus,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub message_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl TryFrom<outbox_message::Model> for OutboxMessage {
    type Error = NotificationError;

    fn try_from(row: outbox_message::Model) -> Result<Self, Self::Error> {
        let status = OutboxStatus::parse(&row.status).ok_or_else(|| {
            NotificationError::Corrupt(format!("message {} has status {:?}", row.id, row.status))
        })?;
        Ok(Self {
            id: OutboxMessageId(row.id),
            tenant_id: row.tenant_id.map(TenantId::from_uuid),
            subject_id: row.subject_id,
            kind: row.kind,
            recipient: row.recipient,
            subject: row.subject,
            status,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            next_attempt_at: row.next_attempt_at,
            last_error: row.last_error,
            lease_expires_at: row.lease_expires_at,
            message_id: row.message_id,
            created_at: row.created_at,
            sent_at: row.sent_at,
        })
    }
}

/// Which messages [`list_messages`] returns; the default is every message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageFilter {
    pub status: Option<OutboxStatus>,
    pub tenant: Option<TenantId>,
}

impl MessageFilter {
    pub fn all() -> Self {
        Self::default()
    }

    pub fn with_status(status: OutboxStatus) -> Self {
        Self {
            status: Some(status),
            tenant: None,
        }
    }

    pub fn dead() -> Self {
        Self::with_status(OutboxStatus::Dead)
    }
}

/// A recipient address, checked the way the SMTP layer will check it.
pub(crate) fn parse_recipient(raw: &str) -> Result<lettre::Address, NotificationError> {
    let trimmed = raw.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > MAX_RECIPIENT_CHARS
        || trimmed.chars().any(char::is_control)
    {
        return Err(NotificationError::InvalidRecipient);
    }
    trimmed
        .parse::<lettre::Address>()
        .map_err(|_| NotificationError::InvalidRecipient)
}

/// Writes `email` for `recipient` into the outbox through `db`, which should be the
/// transaction of the change that caused it: the message then exists exactly when
/// that change committed.
///
/// The recipient must be a plain address and no header may hold CR or LF, so that
/// nothing a user typed can add a header or a recipient.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    recipient: &str,
    email: &RenderedEmail,
    now: DateTime<Utc>,
) -> Result<QueuedMessage, NotificationError> {
    insert_message(db, Some(tenant), None, recipient, email, now).await
}

/// [`enqueue`] for a message about one account (a reset email), whose delivery or
/// failure is then reported to the worker's [`crate::DeliveryObserver`] with that
/// account's id.
pub async fn enqueue_about(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    subject_id: Uuid,
    recipient: &str,
    email: &RenderedEmail,
    now: DateTime<Utc>,
) -> Result<QueuedMessage, NotificationError> {
    insert_message(db, Some(tenant), Some(subject_id), recipient, email, now).await
}

/// [`enqueue`] for platform mail, which belongs to no firm ("Find your firm").
pub async fn enqueue_platform(
    db: &impl ConnectionTrait,
    recipient: &str,
    email: &RenderedEmail,
    now: DateTime<Utc>,
) -> Result<QueuedMessage, NotificationError> {
    insert_message(db, None, None, recipient, email, now).await
}

#[tracing::instrument(skip_all, fields(tenant = tenant.map_or_else(|| "platform".to_owned(), |t| t.to_string()), kind = %email.kind))]
async fn insert_message(
    db: &impl ConnectionTrait,
    tenant: Option<TenantId>,
    subject_id: Option<Uuid>,
    recipient: &str,
    email: &RenderedEmail,
    now: DateTime<Utc>,
) -> Result<QueuedMessage, NotificationError> {
    let address = parse_recipient(recipient)?;
    if email.subject.trim().is_empty()
        || email.subject.chars().count() > MAX_SUBJECT_CHARS
        || email.subject.chars().any(char::is_control)
    {
        return Err(NotificationError::InvalidSubject);
    }
    let id = Uuid::now_v7();
    outbox_message::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant.map(|tenant| tenant.as_uuid())),
        subject_id: Set(subject_id),
        kind: Set(email.kind.as_str().to_owned()),
        recipient: Set(address.to_string()),
        subject: Set(email.subject.clone()),
        html_body: Set(email.html.clone()),
        text_body: Set(email.text.clone()),
        status: Set(OutboxStatus::Queued.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        lease_expires_at: Set(None),
        message_id: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    }
    .insert(db)
    .await?;
    tracing::debug!(recipient_domain = address.domain(), "email queued");
    Ok(QueuedMessage {
        id: OutboxMessageId(id),
        kind: email.kind,
    })
}

/// Messages matching `filter`, newest first, at most `limit`.
pub async fn list_messages(
    db: &impl ConnectionTrait,
    filter: MessageFilter,
    limit: u64,
) -> Result<Vec<OutboxMessage>, NotificationError> {
    let mut query = Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(tenant) = filter.tenant {
        query = query.filter(Column::TenantId.eq(tenant.as_uuid()));
    }
    query
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(OutboxMessage::try_from)
        .collect()
}

/// The status of the newest message of `kind` to `recipient` in a firm: what the
/// staff see as the contact's "last reset email".
pub async fn last_status(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    kind: EmailKind,
    recipient: &str,
) -> Result<Option<OutboxStatus>, NotificationError> {
    let row = Entity::find()
        .filter(Column::TenantId.eq(tenant.as_uuid()))
        .filter(Column::Kind.eq(kind.as_str()))
        .filter(Column::Recipient.eq(recipient))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .one(db)
        .await?;
    Ok(row.and_then(|row| OutboxStatus::parse(&row.status)))
}

/// One message, whatever its status.
pub async fn find_message(
    db: &impl ConnectionTrait,
    id: OutboxMessageId,
) -> Result<Option<OutboxMessage>, NotificationError> {
    Entity::find_by_id(id.0)
        .one(db)
        .await?
        .map(OutboxMessage::try_from)
        .transpose()
}

/// How many messages are in each status; every status is present.
pub async fn count_messages(
    db: &impl ConnectionTrait,
) -> Result<BTreeMap<OutboxStatus, u64>, NotificationError> {
    count_where(db, Condition::all()).await
}

/// Like [`count_messages`] without the sent ones, whose number only grows: this stays
/// cheap (it reads the status index) however old the outbox gets.
pub async fn count_unsent_messages(
    db: &impl ConnectionTrait,
) -> Result<BTreeMap<OutboxStatus, u64>, NotificationError> {
    let mut counts = count_where(
        db,
        Condition::all().add(Column::Status.is_in([
            OutboxStatus::Queued.as_str(),
            OutboxStatus::Sending.as_str(),
            OutboxStatus::Dead.as_str(),
        ])),
    )
    .await?;
    counts.remove(&OutboxStatus::Sent);
    Ok(counts)
}

/// When the oldest message still waiting to go out (queued, or being sent) was
/// written; `None` when nothing waits. Its age is how far behind delivery is, which
/// a count alone does not tell: ten messages a second old are fine, one an hour old
/// is not.
pub async fn oldest_unsent_message_at(
    db: &impl ConnectionTrait,
) -> Result<Option<DateTime<Utc>>, NotificationError> {
    let oldest = Entity::find()
        .filter(Column::Status.is_in([
            OutboxStatus::Queued.as_str(),
            OutboxStatus::Sending.as_str(),
        ]))
        .select_only()
        .column(Column::CreatedAt)
        .order_by_asc(Column::CreatedAt)
        .into_tuple::<DateTime<Utc>>()
        .one(db)
        .await?;
    Ok(oldest)
}

async fn count_where(
    db: &impl ConnectionTrait,
    condition: Condition,
) -> Result<BTreeMap<OutboxStatus, u64>, NotificationError> {
    let rows: Vec<(String, i64)> = Entity::find()
        .filter(condition)
        .select_only()
        .column(Column::Status)
        .column_as(Expr::col(Column::Id).count(), "count")
        .group_by(Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts: BTreeMap<OutboxStatus, u64> =
        OutboxStatus::ALL.into_iter().map(|s| (s, 0)).collect();
    for (status, count) in rows {
        if let Some(status) = OutboxStatus::parse(&status) {
            counts.insert(status, u64::try_from(count).unwrap_or(0));
        }
    }
    Ok(counts)
}

/// Puts a dead message back in the queue for a fresh set of attempts.
#[tracing::instrument(skip(db))]
pub async fn retry_message(
    db: &impl ConnectionTrait,
    id: OutboxMessageId,
    now: DateTime<Utc>,
) -> Result<OutboxMessage, NotificationError> {
    let stored = find_message(db, id)
        .await?
        .ok_or(NotificationError::UnknownMessage)?;
    if let Some(kind) = EmailKind::parse(&stored.kind).filter(EmailKind::carries_credential)
        && stored.status == OutboxStatus::Dead
    {
        return Err(NotificationError::MustReissue(kind));
    }
    let result = Entity::update_many()
        .col_expr(Column::Status, Expr::value(OutboxStatus::Queued.as_str()))
        .col_expr(Column::Attempts, Expr::value(0))
        .col_expr(Column::NextAttemptAt, Expr::value(now))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(Column::Id.eq(id.0))
        .filter(Column::Status.eq(OutboxStatus::Dead.as_str()))
        .exec(db)
        .await?;
    let message = find_message(db, id)
        .await?
        .ok_or(NotificationError::UnknownMessage)?;
    if result.rows_affected == 1 {
        tracing::info!(tenant = ?message.tenant_id, "dead message queued again");
        Ok(message)
    } else {
        Err(NotificationError::NotDead(message.status))
    }
}

/// Removes a dead message that was replaced by a new one (a credential issued anew),
/// so that it can be neither retried nor listed as still waiting for an operator.
pub async fn discard_dead_message(
    db: &impl ConnectionTrait,
    id: OutboxMessageId,
) -> Result<bool, NotificationError> {
    let result = Entity::delete_many()
        .filter(Column::Id.eq(id.0))
        .filter(Column::Status.eq(OutboxStatus::Dead.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A message a worker has claimed, with what it needs to send it.
#[derive(Clone)]
pub(crate) struct ClaimedMessage {
    pub(crate) id: OutboxMessageId,
    pub(crate) tenant_id: Option<TenantId>,
    pub(crate) subject_id: Option<Uuid>,
    pub(crate) kind: String,
    pub(crate) recipient: String,
    pub(crate) subject: String,
    pub(crate) html_body: String,
    pub(crate) text_body: String,
    /// Counting this attempt.
    pub(crate) attempts: u32,
    pub(crate) message_id: String,
    pub(crate) created_at: DateTime<Utc>,
}

impl fmt::Debug for ClaimedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimedMessage")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Due messages: queued ones whose time has come, and ones whose worker's lease
/// ran out (it died or hung mid-send).
fn due(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(Column::Status.eq(OutboxStatus::Queued.as_str()))
                .add(Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(Column::Status.eq(OutboxStatus::Sending.as_str()))
                .add(Column::LeaseExpiresAt.lte(now)),
        )
}

/// Claims up to `limit` due messages for `lease`, marking them `sending` and
/// counting the attempt.
///
/// On PostgreSQL the rows are locked with `FOR UPDATE SKIP LOCKED`, so workers that
/// poll together take different messages instead of queueing on the same rows. On
/// SQLite, which drops the lock clause, each claim is a compare-and-set UPDATE that
/// repeats the due condition, so of two claimers only one changes the row; the
/// same condition guards PostgreSQL too.
pub(crate) async fn claim_due(
    db: &Database,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
    message_id_domain: &str,
) -> Result<Vec<ClaimedMessage>, DbErr> {
    let lease_expires_at = now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::minutes(5));
    if db.get_database_backend() == DbBackend::Postgres {
        let transaction = db.begin().await?;
        let claimed = claim_on(
            &transaction,
            now,
            lease_expires_at,
            limit,
            message_id_domain,
        )
        .await?;
        transaction.commit().await?;
        Ok(claimed)
    } else {
        claim_on(db, now, lease_expires_at, limit, message_id_domain).await
    }
}

fn due_query(now: DateTime<Utc>, limit: u64) -> sea_orm::Select<Entity> {
    Entity::find()
        .filter(due(now))
        .order_by_asc(Column::NextAttemptAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
}

async fn claim_on(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease_expires_at: DateTime<Utc>,
    limit: u64,
    message_id_domain: &str,
) -> Result<Vec<ClaimedMessage>, DbErr> {
    let candidates = due_query(now, limit).all(db).await?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for row in candidates {
        let message_id = row
            .message_id
            .clone()
            .unwrap_or_else(|| format!("<{}@{}>", row.id, message_id_domain));
        let result = Entity::update_many()
            .col_expr(Column::Status, Expr::value(OutboxStatus::Sending.as_str()))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .col_expr(Column::LeaseExpiresAt, Expr::value(lease_expires_at))
            .col_expr(Column::MessageId, Expr::value(message_id.clone()))
            .filter(Column::Id.eq(row.id))
            .filter(Column::Attempts.eq(row.attempts))
            .filter(due(now))
            .exec(db)
            .await?;
        if result.rows_affected == 1 {
            claimed.push(ClaimedMessage {
                id: OutboxMessageId(row.id),
                tenant_id: row.tenant_id.map(TenantId::from_uuid),
                subject_id: row.subject_id,
                kind: row.kind,
                recipient: row.recipient,
                subject: row.subject,
                html_body: row.html_body,
                text_body: row.text_body,
                attempts: u32::try_from(row.attempts).unwrap_or(0).saturating_add(1),
                message_id,
                created_at: row.created_at,
            });
        }
    }
    Ok(claimed)
}

/// Records a delivery. The bodies are emptied: a sent message's link or temporary
/// password has no further use in the database, where a leak could expose it.
///
/// False when the message was no longer `sending`: a worker that took it over after
/// this one's lease ran out has recorded an outcome (or a retry) first.
pub(crate) async fn mark_sent(
    db: &impl ConnectionTrait,
    message: &ClaimedMessage,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let result = Entity::update_many()
        .col_expr(Column::Status, Expr::value(OutboxStatus::Sent.as_str()))
        .col_expr(Column::SentAt, Expr::value(now))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(Column::HtmlBody, Expr::value(""))
        .col_expr(Column::TextBody, Expr::value(""))
        .filter(Column::Id.eq(message.id.0))
        .filter(Column::Status.eq(OutboxStatus::Sending.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Puts a message back in the queue after a transient failure.
pub(crate) async fn schedule_retry(
    db: &impl ConnectionTrait,
    message: &ClaimedMessage,
    next_attempt_at: DateTime<Utc>,
    error: &str,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Status, Expr::value(OutboxStatus::Queued.as_str()))
        .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LastError, Expr::value(truncate(error)))
        .filter(Column::Id.eq(message.id.0))
        .filter(Column::Status.eq(OutboxStatus::Sending.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Gives up on a message; false, like [`mark_sent`], when another worker recorded
/// an outcome first.
pub(crate) async fn mark_dead(
    db: &impl ConnectionTrait,
    message: &ClaimedMessage,
    error: &str,
) -> Result<bool, DbErr> {
    let mut update = Entity::update_many()
        .col_expr(Column::Status, Expr::value(OutboxStatus::Dead.as_str()))
        .col_expr(
            Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::LastError, Expr::value(truncate(error)));
    // A link or a temporary password must not lie in the database for ever (nor be
    // sent later, stale): it is wiped like a sent message's.
    if EmailKind::parse(&message.kind).is_some_and(|kind| kind.carries_credential()) {
        update = update
            .col_expr(Column::HtmlBody, Expr::value(""))
            .col_expr(Column::TextBody, Expr::value(""));
    }
    let result = update
        .filter(Column::Id.eq(message.id.0))
        .filter(Column::Status.eq(OutboxStatus::Sending.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

fn truncate(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, QueryTrait};

    use super::{OutboxStatus, due_query, parse_recipient};

    #[test]
    fn postgres_claims_skip_rows_other_workers_hold() {
        let now = chrono::Utc::now();
        let postgres = due_query(now, 5).build(DbBackend::Postgres).to_string();
        assert!(postgres.ends_with("FOR UPDATE SKIP LOCKED"), "{postgres}");
        assert!(postgres.contains("\"status\" = 'queued'"), "{postgres}");
        assert!(postgres.contains("\"lease_expires_at\" <="), "{postgres}");
        let sqlite = due_query(now, 5).build(DbBackend::Sqlite).to_string();
        assert!(!sqlite.contains("FOR UPDATE"), "{sqlite}");
    }

    #[test]
    fn recipients_are_plain_addresses() {
        assert!(parse_recipient(" ann@acme.test ").is_ok());
        for bad in [
            "",
            "ann",
            "ann@acme.test\r\nBcc: eve@evil.test",
            "ann@acme.test\nX: y",
            "Ann <ann@acme.test>",
            "ann@acme.test, eve@evil.test",
        ] {
            assert!(parse_recipient(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in OutboxStatus::ALL {
            assert_eq!(OutboxStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OutboxStatus::parse("lost"), None);
    }
}
