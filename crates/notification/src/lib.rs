//! Every email the product sends: typed messages rendered from embedded templates
//! in the firm's branding and the recipient's language, a transactional outbox, and
//! the worker that delivers it over SMTP, into a folder or to the log.
//!
//! Architecture invariant: a message is written to the outbox in the transaction of
//! the change that caused it and stays there until it is sent or declared dead; no
//! web request ever waits for SMTP. Delivery is at least once; several workers on
//! one PostgreSQL database claim disjoint messages (`FOR UPDATE SKIP LOCKED`).

mod backoff;
mod clock;
mod email;
mod entity;
mod metrics;
mod outbox;
mod phrases;
mod render;
mod transport;
mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use email::{
    AccessRequestReceived, Email, EmailKind, FindYourFirm, FirmLink, Invitation, PasswordChanged,
    PasswordReset, RenderedEmail, TemporaryPassword,
};
pub use metrics::DeliveryMetrics;
pub use outbox::{
    MessageFilter, OutboxMessage, OutboxMessageId, OutboxStatus, QueuedMessage, count_messages,
    count_unsent_messages, discard_dead_message, enqueue, enqueue_about, enqueue_platform,
    find_message, last_status, list_messages, oldest_unsent_message_at, retry_message,
};
pub use phrases::LOCALES;
pub use render::Renderer;
pub use transport::{FileMailbox, MailboxEntry, MailboxMessage, Transport};
pub use worker::{
    DeliveryEvent, DeliveryObserver, DeliveryOutcome, DeliveryReport, DeliverySettings,
    DeliveryWaker, DeliveryWorker, ObserverFuture,
};

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("the recipient is not one valid email address")]
    InvalidRecipient,
    #[error("an email subject must be 1 to 300 characters with no line breaks")]
    InvalidSubject,
    #[error("links in emails must be http or https URLs")]
    InvalidUrl,
    #[error("`{0}` is not a valid sender address")]
    InvalidSender(String),
    #[error("mail transport: {0}")]
    Transport(String),
    #[error("email template error: {0}")]
    Template(#[from] minijinja::Error),
    #[error("no such outbox message")]
    UnknownMessage,
    #[error("only a dead message can be retried; this one is {0}")]
    NotDead(OutboxStatus),
    /// Its body was wiped when it died: the account must be sent a new credential.
    #[error("a dead {0} email carried a credential and is never sent again; issue a new one")]
    MustReissue(EmailKind),
    #[error("a stored outbox message is unreadable: {0}")]
    Corrupt(String),
    #[error("firm lookup failed")]
    Tenancy(#[from] tenancy::TenancyError),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}
