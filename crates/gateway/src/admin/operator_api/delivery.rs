//! `/outbox`: watching email delivery and retrying dead messages.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use notification::{MessageFilter, OutboxMessage, OutboxMessageId, OutboxStatus};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi, Tags};
use service::firms;
use tenancy::TenantId;
use uuid::Uuid;

use super::constraints::{Described, PageLimit};
use super::{ApiError, OperatorToken};
use crate::state::AppState;

#[derive(Tags)]
enum ApiTags {
    /// Email delivery through the outbox.
    Delivery,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    Sending,
    Sent,
    /// Given up on after `mail.max_attempts`; may be retried.
    Dead,
}

impl From<OutboxStatus> for MessageStatus {
    fn from(status: OutboxStatus) -> Self {
        match status {
            OutboxStatus::Queued => Self::Queued,
            OutboxStatus::Sending => Self::Sending,
            OutboxStatus::Sent => Self::Sent,
            OutboxStatus::Dead => Self::Dead,
        }
    }
}

impl From<MessageStatus> for OutboxStatus {
    fn from(status: MessageStatus) -> Self {
        match status {
            MessageStatus::Queued => Self::Queued,
            MessageStatus::Sending => Self::Sending,
            MessageStatus::Sent => Self::Sent,
            MessageStatus::Dead => Self::Dead,
        }
    }
}

/// A message without its body: bodies hold reset links and temporary passwords.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct MessageView {
    pub id: Uuid,
    /// The firm's slug; null for platform mail (such as "Find your firm") and for
    /// mail of a purged firm.
    #[oai(nullable)]
    pub firm: Option<String>,
    /// Such as `password_reset`, `invitation`.
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub status: MessageStatus,
    pub attempts: u32,
    /// null until an attempt fails.
    #[oai(nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    /// null until the message is sent.
    #[oai(nullable)]
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct MessageList {
    /// Newest first.
    pub messages: Vec<MessageView>,
}

/// Slugs of the firms that listed items belong to, looked up once each.
pub(super) struct FirmNames<'a> {
    state: &'a AppState,
    known: HashMap<TenantId, Option<String>>,
}

impl<'a> FirmNames<'a> {
    pub(super) fn new(state: &'a AppState) -> Self {
        Self {
            state,
            known: HashMap::new(),
        }
    }

    /// The slug of firm `id`; `None` for platform items and purged firms.
    pub(super) async fn slug(&mut self, id: Option<TenantId>) -> Result<Option<String>, ApiError> {
        let Some(id) = id else {
            return Ok(None);
        };
        if let Some(slug) = self.known.get(&id) {
            return Ok(slug.clone());
        }
        let slug = tenancy::find_tenant_slug(&self.state.services.db, id).await?;
        self.known.insert(id, slug.clone());
        Ok(slug)
    }

    async fn view(&mut self, message: OutboxMessage) -> Result<MessageView, ApiError> {
        let firm = self.slug(message.tenant_id).await?;
        Ok(MessageView {
            id: message.id.as_uuid(),
            firm,
            kind: message.kind,
            recipient: message.recipient,
            subject: message.subject,
            status: message.status.into(),
            attempts: message.attempts,
            last_error: message.last_error,
            created_at: message.created_at,
            next_attempt_at: message.next_attempt_at,
            sent_at: message.sent_at,
        })
    }
}

pub struct DeliveryApi;

#[OpenApi(prefix_path = "/outbox")]
impl DeliveryApi {
    /// Outbox messages, newest first.
    #[oai(path = "/", method = "get", tag = "ApiTags::Delivery")]
    async fn list(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        /// Only messages in this status, such as `dead`.
        status: Query<Option<MessageStatus>>,
        /// Only this firm's messages.
        firm: Query<Option<String>>,
        /// 1 to 500; 50 when left out.
        limit: Query<Option<Described<u64, PageLimit>>>,
    ) -> Result<Json<MessageList>, ApiError> {
        let tenant = match firm.0 {
            Some(slug) => Some(firms::find_firm(&state.services, &slug).await?.id),
            None => None,
        };
        let filter = MessageFilter {
            status: status.0.map(Into::into),
            tenant,
        };
        let limit = super::tenants::page_size(limit.0)?;
        let messages = service::cross_firm::outbox_messages(&state.services, filter, limit).await?;
        let mut names = FirmNames::new(&state);
        let mut views = Vec::with_capacity(messages.len());
        for message in messages {
            views.push(names.view(message).await?);
        }
        Ok(Json(MessageList { messages: views }))
    }

    /// Queue a dead message again; the worker sends it within seconds.
    #[oai(path = "/:id/retry", method = "post", tag = "ApiTags::Delivery")]
    async fn retry(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        id: Path<Uuid>,
    ) -> Result<Json<MessageView>, ApiError> {
        // A message that carried a credential is never sent twice: its account is
        // sent a new one, and that new message is returned.
        let message =
            service::emails::retry_dead_message(&state.services, OutboxMessageId::from_uuid(id.0))
                .await?;
        state.services.waker.wake();
        FirmNames::new(&state).view(message).await.map(Json)
    }
}
