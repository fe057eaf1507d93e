//! The reads that span firms. Everywhere else a read of a firm's data takes its
//! `TenantId`; these are the exceptions, each for a reason given beside it, and every
//! caller names this module, so an exception is found by its path.

use chrono::{DateTime, Utc};
use identity::{AccessNotice, AccountAt, EmailAddress, FirmLookup};
use notification::{MessageFilter, OutboxMessage, OutboxStatus};
use reset_token::ResetRequest;
use storage::QueueDepth;
use tenancy::{Tenant, TenantPage, TenantQuery};
use uuid::Uuid;

use crate::processors::Queue;
use crate::{ServiceError, Services};

/// "Find your firm": every firm where `email` has an account that is not disabled.
/// Its answer is emailed to this very address alone, and holds firms, never account
/// data.
pub async fn firms_of_address(
    services: &Services,
    email: &EmailAddress,
) -> Result<Vec<AccountAt>, ServiceError> {
    Ok(identity::accounts_by_email(&services.db, email).await?)
}

/// The processors' work: due "Forgot your password?" requests of every firm, so one
/// processor serves them all.
pub async fn due_reset_requests(
    services: &Services,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<ResetRequest>, ServiceError> {
    Ok(reset_token::pending_reset_requests(&services.db, now, limit).await?)
}

/// The processors' work: due "Find your firm" requests, which belong to no firm.
pub async fn due_firm_lookups(
    services: &Services,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<FirmLookup>, ServiceError> {
    Ok(identity::pending_firm_lookups(&services.db, now, limit).await?)
}

/// The processors' work: access requests of every firm whose staff are still to be
/// told.
pub async fn due_access_notices(
    services: &Services,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<AccessNotice>, ServiceError> {
    Ok(identity::pending_access_notices(&services.db, now, limit).await?)
}

/// Operators: every firm, for `latchkey tenant list`.
pub async fn all_firms(services: &Services) -> Result<Vec<Tenant>, ServiceError> {
    Ok(tenancy::list_tenants(&services.db).await?)
}

/// Operators: a page of firms, for the operator API.
pub async fn firms_page(
    services: &Services,
    query: &TenantQuery,
) -> Result<TenantPage, ServiceError> {
    Ok(tenancy::list_tenants_page(&services.db, query).await?)
}

/// Operators: outbox messages of every firm, or of the one `filter` names.
pub async fn outbox_messages(
    services: &Services,
    filter: MessageFilter,
    limit: u64,
) -> Result<Vec<OutboxMessage>, ServiceError> {
    Ok(notification::list_messages(&services.db, filter, limit).await?)
}

/// How much work waits, whichever firm it is for: what `/metrics` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub outbox: QueueDepth,
    /// Seconds since the oldest unsent message was queued; 0 when none waits.
    pub outbox_oldest_age_seconds: i64,
    pub reset_requests: QueueDepth,
    pub firm_lookups: QueueDepth,
    pub access_notices: QueueDepth,
}

impl Backlog {
    /// The depth of a processor's queue.
    pub fn of(&self, queue: Queue) -> QueueDepth {
        match queue {
            Queue::ResetRequests => self.reset_requests,
            Queue::FirmLookups => self.firm_lookups,
            Queue::AccessRequests => self.access_notices,
        }
    }
}

/// Counts every queue afresh, so the figures are right whichever instance did the
/// work.
pub async fn backlog(services: &Services, now: DateTime<Utc>) -> Result<Backlog, ServiceError> {
    let db = &services.db;
    let outbox = notification::count_unsent_messages(db).await?;
    let count = |status| outbox.get(&status).copied().unwrap_or(0);
    let oldest = notification::oldest_unsent_message_at(db).await?;
    Ok(Backlog {
        outbox: QueueDepth {
            pending: count(OutboxStatus::Queued) + count(OutboxStatus::Sending),
            failed: count(OutboxStatus::Dead),
        },
        outbox_oldest_age_seconds: oldest.map_or(0, |created| (now - created).num_seconds()),
        reset_requests: reset_token::reset_request_depth(db).await?,
        firm_lookups: identity::firm_lookup_depth(db).await?,
        access_notices: identity::access_notice_depth(db).await?,
    })
}

/// A request set aside after its last attempt failed, as operators see it: never
/// the full address, only its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    pub id: Uuid,
    pub queue: Queue,
    pub firm: Option<tenancy::TenantId>,
    pub email_domain: String,
    pub requested_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_error: String,
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map_or_else(String::new, |(_, domain)| domain.to_owned())
}

/// Every queue's set-aside requests, newest first, at most `limit` of each.
pub async fn set_aside_requests(
    services: &Services,
    limit: u64,
) -> Result<Vec<SetAside>, ServiceError> {
    let mut all: Vec<SetAside> = Vec::new();
    for request in reset_token::failed_reset_requests(&services.db, limit).await? {
        all.push(SetAside {
            id: request.id,
            queue: Queue::ResetRequests,
            firm: Some(request.tenant_id),
            email_domain: domain_of(&request.email),
            requested_at: request.requested_at,
            attempts: request.attempts,
            last_error: request.last_error.unwrap_or_default(),
        });
    }
    for lookup in identity::failed_firm_lookups(&services.db, limit).await? {
        all.push(SetAside {
            id: lookup.id,
            queue: Queue::FirmLookups,
            firm: None,
            email_domain: domain_of(&lookup.email),
            requested_at: lookup.requested_at,
            attempts: lookup.attempts,
            last_error: lookup.last_error.unwrap_or_default(),
        });
    }
    for notice in identity::failed_access_notices(&services.db, limit).await? {
        all.push(SetAside {
            id: notice.request.id,
            queue: Queue::AccessRequests,
            firm: Some(notice.request.tenant_id),
            email_domain: notice.request.email.domain().to_owned(),
            requested_at: notice.request.created_at,
            attempts: notice.attempts,
            last_error: notice.last_error.unwrap_or_default(),
        });
    }
    all.sort_by_key(|request| std::cmp::Reverse(request.requested_at));
    Ok(all)
}
