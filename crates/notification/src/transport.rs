//! Where delivered messages go: an SMTP server (lettre's pooled async transport), a
//! folder of `.eml` files (the development default, read by the dev mailbox), or
//! one log line per message.

mod file;
mod smtp;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::AsyncTransport;

pub use file::{FileMailbox, MailboxEntry, MailboxMessage};

use crate::NotificationError;

/// How long one SMTP conversation may take before it counts as a transient failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A configured transport. Clones share the SMTP connection pool.
#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(lettre::AsyncSmtpTransport<lettre::Tokio1Executor>),
    File(FileMailbox),
    Log,
}

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendFailure {
    /// Worth another attempt: a 4xx reply, a timeout, a refused connection.
    Transient(String),
    /// Will fail again: a 5xx reply or a message that cannot be built.
    Permanent(String),
}

/// One message on its way out, with what the transports log or store beside it.
#[derive(Debug)]
pub(crate) struct Outgoing<'a> {
    pub(crate) message: &'a lettre::Message,
    pub(crate) id: &'a str,
    pub(crate) tenant: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) from: &'a str,
    pub(crate) recipient: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) html: &'a str,
    pub(crate) text: &'a str,
    pub(crate) message_id: &'a str,
    pub(crate) now: DateTime<Utc>,
}

impl Outgoing<'_> {
    pub(crate) fn recipient_domain(&self) -> &str {
        recipient_domain(self.recipient)
    }
}

/// The part of an address that may be logged.
pub(crate) fn recipient_domain(address: &str) -> &str {
    address.rsplit_once('@').map_or("", |(_, domain)| domain)
}

impl Transport {
    /// The transport named by `mail.transport` (`smtp`, `file` or `log`), with
    /// `mail.smtp_url` and `mail.dir`.
    pub fn from_config(
        kind: &str,
        smtp_url: Option<&str>,
        dir: impl Into<PathBuf>,
    ) -> Result<Self, NotificationError> {
        match kind {
            "smtp" => Self::smtp(smtp_url.ok_or_else(|| {
                NotificationError::Transport("mail.smtp_url is required for smtp".to_owned())
            })?),
            "file" => Ok(Self::File(FileMailbox::new(dir))),
            "log" => Ok(Self::Log),
            other => Err(NotificationError::Transport(format!(
                "unknown mail transport `{other}` (expected smtp, file or log)"
            ))),
        }
    }

    /// An SMTP transport from a URL: `smtp://host[:port]` uses STARTTLS and refuses
    /// to go on without it, `smtps://host[:port]` is TLS from the start, and
    /// `smtp://host:25?tls=none` is plain (local relays and tests only). A user and
    /// password in the URL are sent with AUTH.
    ///
    /// Must be called inside a Tokio runtime: lettre's pool spawns its reaper task
    /// when it is built, and panics without a runtime.
    pub fn smtp(url: &str) -> Result<Self, NotificationError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(NotificationError::Transport(
                "the SMTP transport must be built inside a Tokio runtime".to_owned(),
            ));
        }
        let lettre_url = smtp::lettre_url(url)?;
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&lettre_url)
            .map_err(|error| NotificationError::Transport(error.to_string()))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self::Smtp(transport))
    }

    /// A folder of `.eml` files.
    pub fn file(dir: impl Into<PathBuf>) -> Self {
        Self::File(FileMailbox::new(dir))
    }

    pub(crate) async fn send(&self, outgoing: &Outgoing<'_>) -> Result<(), SendFailure> {
        match self {
            Self::Smtp(transport) => transport
                .send(outgoing.message.clone())
                .await
                .map(drop)
                .map_err(|error| smtp::classify(&error, outgoing.recipient)),
            Self::File(mailbox) => mailbox.deliver(outgoing).await.map_err(|error| {
                SendFailure::Transient(format!("cannot write to the mail folder: {error}"))
            }),
            Self::Log => {
                tracing::info!(
                    tenant = outgoing.tenant,
                    kind = outgoing.kind,
                    recipient_domain = outgoing.recipient_domain(),
                    message_id = outgoing.message_id,
                    "email delivered to the log"
                );
                Ok(())
            }
        }
    }
}
