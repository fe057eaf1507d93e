//! The delivery worker: claims due outbox messages, sends them, and records the
//! outcome (sent, a retry with backoff, or dead). It runs inside `latchkey serve` or
//! alone as `latchkey worker`, and any number of them may share one database.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use std::pin::Pin;

use chrono::{DateTime, TimeDelta, Utc};
use lettre::message::{Mailbox, MultiPart};
use sea_orm::{DbErr, TransactionTrait};
use storage::{Database, Transaction};
use tenancy::{TenantId, find_tenant_by_id};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tracing::Instrument;
use uuid::Uuid;

use crate::backoff::{random_jitter, retry_delay};
use crate::outbox::{
    ClaimedMessage, OutboxMessageId, QueuedMessage, claim_due, count_unsent_messages, mark_dead,
    mark_sent, parse_recipient, schedule_retry,
};
use crate::transport::{Outgoing, SendFailure, recipient_domain};
use crate::{Clock, DeliveryMetrics, NotificationError, SystemClock, Transport};

/// How the worker delivers. The fields come from the `mail.*` settings.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The sender address (`mail.from`); its display name is replaced by the firm's
    /// name, so each email looks like it comes from the firm.
    pub from: Mailbox,
    /// Attempts before a message is dead (`mail.max_attempts`).
    pub max_attempts: u32,
    /// The first retry's delay (`mail.retry_base_seconds`); each further one doubles.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// How long a claimed message belongs to its worker; after that a worker that
    /// died mid-send loses it to another. Longer than any SMTP conversation.
    pub lease: Duration,
    /// How often the outbox is polled when nobody wakes the worker: the catch-all
    /// for retries coming due and for messages queued by other processes.
    pub poll_interval: Duration,
    /// Messages claimed, and sent concurrently, at a time.
    pub batch: u64,
    /// The sender's name on platform mail, which belongs to no firm.
    pub platform_name: String,
}

impl DeliverySettings {
    /// Defaults for everything but the sender: 8 attempts, retries from 30 s up to
    /// an hour, a 5-minute lease, a poll every 3 s, batches of 16.
    pub fn new(from: &str) -> Result<Self, NotificationError> {
        let from: Mailbox = from
            .parse()
            .map_err(|_| NotificationError::InvalidSender(from.to_owned()))?;
        Ok(Self {
            from,
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
            retry_cap: Duration::from_secs(3600),
            lease: Duration::from_secs(300),
            poll_interval: Duration::from_secs(3),
            batch: 16,
            platform_name: "Latchkey".to_owned(),
        })
    }
}

/// Wakes the worker at once after a message is queued, and counts it. Cheap to
/// clone; a waker made without a worker in the same process only counts.
#[derive(Debug, Clone, Default)]
pub struct DeliveryWaker {
    notify: Arc<Notify>,
    metrics: Option<DeliveryMetrics>,
}

impl DeliveryWaker {
    pub fn new(metrics: Option<DeliveryMetrics>) -> Self {
        Self {
            notify: Arc::new(Notify::new()),
            metrics,
        }
    }

    /// Call once the transaction that queued `message` has committed. Called
    /// before, the worker may look before the row is visible and the message then
    /// waits for the next poll.
    pub fn notify(&self, message: &QueuedMessage) {
        if let Some(metrics) = &self.metrics {
            metrics.queued(message.kind.as_str());
        }
        self.wake();
    }

    /// Makes the worker look at the outbox now, e.g. after an operator's retry. A
    /// wake while the worker is busy is remembered, so none is lost.
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub dead: usize,
}

/// Delivers the outbox. Build one per process and `run` it; clones share everything.
#[derive(Debug, Clone)]
pub struct DeliveryWorker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    transport: Transport,
    settings: DeliverySettings,
    clock: Arc<dyn Clock>,
    waker: DeliveryWaker,
    observer: Option<Arc<dyn DeliveryObserver>>,
}

/// The final outcome of a message that names the account it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent,
    /// Given up on, with the last error.
    Dead {
        error: String,
    },
}

/// What a [`DeliveryObserver`] hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEvent {
    pub message_id: OutboxMessageId,
    pub tenant_id: TenantId,
    pub subject_id: Uuid,
    /// The email kind's name, such as `password_reset`.
    pub kind: String,
    pub outcome: DeliveryOutcome,
    pub at: DateTime<Utc>,
}

/// The boxed future a [`DeliveryObserver`] returns.
pub type ObserverFuture<'a> = Pin<Box<dyn Future<Output = Result<(), DbErr>> + Send + 'a>>;

/// Told of the final outcome, sent or dead, of every message queued with
/// [`crate::enqueue_about`], inside the transaction that records that outcome: the
/// gateway writes the audit trail here, which then never misses nor invents one.
/// Messages without a subject (platform mail, notices nobody audits) are not
/// reported, and neither are retries, which are not outcomes.
///
/// If the observer fails, the outcome is rolled back with its own writes and the
/// message stays `sending` with its lease. When the lease runs out the message is
/// due again (the claim takes `sending` rows whose lease has expired), so a worker
/// claims it, counts another attempt and sends it again: the recipient may get it
/// more than once, but it is never lost nor marked sent without the trail. Once the
/// attempts run out that way the message is declared dead, and the observer is
/// asked to record that instead.
pub trait DeliveryObserver: Send + Sync + std::fmt::Debug {
    fn delivered<'a>(
        &'a self,
        txn: &'a Transaction,
        event: &'a DeliveryEvent,
    ) -> ObserverFuture<'a>;
}

/// A firm as its emails need it.
#[derive(Debug, Clone)]
struct Sender {
    slug: String,
    display_name: String,
}

impl DeliveryWorker {
    /// A worker on `db` that `waker` wakes and whose metrics it reports.
    pub fn new(
        db: Database,
        transport: Transport,
        settings: DeliverySettings,
        waker: DeliveryWaker,
    ) -> Self {
        Self::with_clock(db, transport, settings, waker, Arc::new(SystemClock))
    }

    /// Like [`DeliveryWorker::new`] with another clock, so tests move time.
    pub fn with_clock(
        db: Database,
        transport: Transport,
        settings: DeliverySettings,
        waker: DeliveryWaker,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                transport,
                settings,
                clock,
                waker,
                observer: None,
            }),
        }
    }

    /// The same worker, reporting final outcomes to `observer`. Call before cloning.
    pub fn with_observer(self, observer: Arc<dyn DeliveryObserver>) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            db: shared.db.clone(),
            transport: shared.transport.clone(),
            settings: shared.settings.clone(),
            clock: Arc::clone(&shared.clock),
            waker: shared.waker.clone(),
            observer: shared.observer.clone(),
        });
        Self {
            inner: Arc::new(Inner {
                observer: Some(observer),
                ..inner
            }),
        }
    }

    /// The waker to hand to code that queues messages.
    pub fn waker(&self) -> DeliveryWaker {
        self.inner.waker.clone()
    }

    /// Delivers until `shutdown` completes. A batch being sent is finished first,
    /// so a graceful stop leaves no message waiting for its lease to expire.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let settings = &self.inner.settings;
        tracing::info!(
            poll_seconds = settings.poll_interval.as_secs_f64(),
            "email delivery worker started"
        );
        loop {
            let more_due = match self.deliver_due().await {
                Ok(report) => report.claimed as u64 >= settings.batch.max(1),
                Err(error) => {
                    tracing::error!(error = %error, "email delivery pass failed");
                    false
                }
            };
            if more_due {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = std::future::ready(()) => continue,
                }
            }
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                () = self.inner.waker.notify.notified() => {}
                () = tokio::time::sleep(settings.poll_interval) => {}
            }
        }
        tracing::info!("email delivery worker stopped");
    }

    /// One pass: claims the messages due now, sends them concurrently, then writes
    /// every outcome in one transaction. One commit per pass rather than per message
    /// matters on SQLite, where every write waits for the one writer.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, NotificationError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let claimed = claim_due(
            &inner.db,
            now,
            inner.settings.lease,
            inner.settings.batch.max(1),
            inner.settings.from.email.domain(),
        )
        .await?;
        let mut report = DeliveryReport {
            claimed: claimed.len(),
            ..DeliveryReport::default()
        };
        let mut senders: HashMap<TenantId, Option<Sender>> = HashMap::new();
        let mut tasks = JoinSet::new();
        for message in claimed {
            let sender = match message.tenant_id {
                None => Some(Sender {
                    slug: "platform".to_owned(),
                    display_name: inner.settings.platform_name.clone(),
                }),
                Some(tenant_id) => match senders.get(&tenant_id) {
                    Some(sender) => sender.clone(),
                    None => {
                        let sender = find_tenant_by_id(&inner.db, tenant_id)
                            .await?
                            .map(|tenant| Sender {
                                slug: tenant.slug.to_string(),
                                display_name: tenant.display_name,
                            });
                        senders.insert(tenant_id, sender.clone());
                        sender
                    }
                },
            };
            let span = tracing::info_span!(
                "deliver_email",
                tenant = sender.as_ref().map_or("?", |s| s.slug.as_str()),
                kind = %message.kind,
                attempt = message.attempts,
                recipient_domain = recipient_domain(&message.recipient),
            );
            let inner = Arc::clone(inner);
            tasks.spawn(
                async move {
                    let (verdict, at) = inner.send_one(&message, sender).await;
                    Finished {
                        message,
                        verdict,
                        at,
                        span: tracing::Span::current(),
                    }
                }
                .instrument(span),
            );
        }
        let mut finished = Vec::with_capacity(report.claimed);
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(done) => finished.push(done),
                // The message stays `sending` and is claimed again when its lease
                // expires: delivered at least once, never lost.
                Err(error) => tracing::error!(error = %error, "an email delivery task failed"),
            }
        }
        for (done, recorded) in inner.record_all(&finished).await {
            let _entered = done.span.enter();
            if let Err(error) = recorded {
                // As above: the lease brings the message back.
                tracing::error!(error = %error, "recording a delivery outcome failed");
                continue;
            }
            inner.announce(done, &mut report);
        }
        if let Some(metrics) = &inner.waker.metrics {
            metrics.set_depth(&count_unsent_messages(&inner.db).await?);
        }
        Ok(report)
    }
}

/// What sending a message came to, before it is written down.
#[derive(Debug)]
enum Verdict {
    Sent,
    Retry {
        next: DateTime<Utc>,
        delay: Duration,
        error: String,
    },
    Dead {
        error: String,
    },
}

/// A message of this pass and what became of it.
struct Finished {
    message: ClaimedMessage,
    verdict: Verdict,
    at: DateTime<Utc>,
    /// The message's own span, so what is logged after the pass still names it.
    span: tracing::Span,
}

impl Inner {
    /// Sends one message, or decides it cannot be sent; writes nothing.
    async fn send_one(
        &self,
        message: &ClaimedMessage,
        sender: Option<Sender>,
    ) -> (Verdict, DateTime<Utc>) {
        let Some(sender) = sender else {
            // The firm was deleted after the claim; its messages go with it.
            let error = "the firm no longer exists".to_owned();
            return (Verdict::Dead { error }, self.clock.now());
        };
        if message.attempts > self.settings.max_attempts {
            // Only a message whose every worker died mid-send gets here.
            let error = format!(
                "abandoned after {} attempts: the worker stopped while sending",
                self.settings.max_attempts
            );
            return (Verdict::Dead { error }, self.clock.now());
        }
        let now = self.clock.now();
        let built = self.build(message, &sender, now);
        let result = match &built {
            Ok(email) => {
                let from = email
                    .headers()
                    .get_raw("From")
                    .unwrap_or_default()
                    .to_owned();
                let outgoing = Outgoing {
                    message: email,
                    id: &message.id.to_string(),
                    tenant: &sender.slug,
                    kind: &message.kind,
                    from: &from,
                    recipient: &message.recipient,
                    subject: &message.subject,
                    html: &message.html_body,
                    text: &message.text_body,
                    message_id: &message.message_id,
                    now,
                };
                // A transport that hangs must not hold the message past its lease.
                match tokio::time::timeout(self.settings.lease / 2, self.transport.send(&outgoing))
                    .await
                {
                    Ok(result) => result,
                    Err(_) => Err(SendFailure::Transient("timed out while sending".to_owned())),
                }
            }
            Err(error) => Err(SendFailure::Permanent(error.clone())),
        };
        let finished = self.clock.now();
        let verdict = match result {
            Ok(()) => Verdict::Sent,
            Err(SendFailure::Transient(error)) if message.attempts < self.settings.max_attempts => {
                let delay = retry_delay(
                    self.settings.retry_base,
                    self.settings.retry_cap,
                    message.attempts,
                    random_jitter(),
                );
                let next = finished + TimeDelta::from_std(delay).unwrap_or(TimeDelta::hours(1));
                Verdict::Retry { next, delay, error }
            }
            Err(SendFailure::Transient(error) | SendFailure::Permanent(error)) => {
                Verdict::Dead { error }
            }
        };
        (verdict, finished)
    }

    /// Writes every outcome of a pass in one transaction. If that fails (say, the
    /// observer refuses one message's trail), each is written alone instead, so one
    /// message's trouble leaves the others recorded.
    async fn record_all<'a>(
        &self,
        finished: &'a [Finished],
    ) -> Vec<(&'a Finished, Result<(), NotificationError>)> {
        let together = async {
            let txn = self.db.begin().await?;
            for done in finished {
                self.record(&txn, done).await?;
            }
            txn.commit().await?;
            Ok::<_, NotificationError>(())
        };
        match together.await {
            Ok(()) => finished.iter().map(|done| (done, Ok(()))).collect(),
            Err(error) => {
                tracing::warn!(%error, "recording a pass's outcomes together failed; recording each alone");
                let mut results = Vec::with_capacity(finished.len());
                for done in finished {
                    let alone = async {
                        let txn = self.db.begin().await?;
                        self.record(&txn, done).await?;
                        txn.commit().await?;
                        Ok(())
                    };
                    results.push((done, alone.await));
                }
                results
            }
        }
    }

    /// Writes one outcome: a retry, or a final outcome that, when the message names
    /// its account and an observer listens, the observer hears in the same
    /// transaction.
    async fn record(&self, txn: &Transaction, done: &Finished) -> Result<(), NotificationError> {
        let message = &done.message;
        let (outcome, recorded) = match &done.verdict {
            Verdict::Retry { next, error, .. } => {
                schedule_retry(txn, message, *next, error).await?;
                return Ok(());
            }
            Verdict::Sent => (
                DeliveryOutcome::Sent,
                mark_sent(txn, message, done.at).await?,
            ),
            Verdict::Dead { error } => (
                DeliveryOutcome::Dead {
                    error: error.clone(),
                },
                mark_dead(txn, message, error).await?,
            ),
        };
        // A worker that took the message over has already recorded its outcome (and
        // told the observer) or a retry; telling the observer now would put an
        // outcome on the trail that the outbox does not have.
        if !recorded {
            return Ok(());
        }
        if let (Some(observer), Some(tenant_id), Some(subject_id)) =
            (&self.observer, message.tenant_id, message.subject_id)
        {
            let event = DeliveryEvent {
                message_id: message.id,
                tenant_id,
                subject_id,
                kind: message.kind.clone(),
                outcome,
                at: done.at,
            };
            observer.delivered(txn, &event).await?;
        }
        Ok(())
    }

    /// Counts and logs an outcome once it is written down.
    fn announce(&self, done: &Finished, report: &mut DeliveryReport) {
        let metrics = self.waker.metrics.as_ref();
        let kind = &done.message.kind;
        match &done.verdict {
            Verdict::Sent => {
                report.sent += 1;
                let waited = (done.at - done.message.created_at).as_seconds_f64();
                if let Some(metrics) = metrics {
                    metrics.sent(kind, waited);
                }
                tracing::info!(waited_seconds = waited, "email sent");
            }
            Verdict::Retry { delay, error, .. } => {
                report.retried += 1;
                if let Some(metrics) = metrics {
                    metrics.retried(kind);
                }
                tracing::warn!(
                    error = %error,
                    retry_in_seconds = delay.as_secs(),
                    "email delivery failed; will retry"
                );
            }
            Verdict::Dead { error } => {
                report.dead += 1;
                if let Some(metrics) = metrics {
                    metrics.dead(kind);
                }
                tracing::error!(error = %error, "email is dead; an operator may retry it");
            }
        }
    }
    /// The MIME message; failing to build it is permanent, as a retry would fail
    /// the same way.
    fn build(
        &self,
        message: &ClaimedMessage,
        sender: &Sender,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<lettre::Message, String> {
        let to = parse_recipient(&message.recipient)
            .map_err(|_| "the stored recipient is not a valid address".to_owned())?;
        let from = Mailbox::new(
            Some(sender.display_name.clone()),
            self.settings.from.email.clone(),
        );
        lettre::Message::builder()
            .from(from)
            .to(Mailbox::new(None, to))
            .subject(message.subject.clone())
            .message_id(Some(message.message_id.clone()))
            .date(SystemTime::from(now))
            .multipart(MultiPart::alternative_plain_html(
                message.text_body.clone(),
                message.html_body.clone(),
            ))
            .map_err(|error| format!("the message cannot be built: {error}"))
    }
}
