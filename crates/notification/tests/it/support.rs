//! Firms, settings and a scripted SMTP server shared by the tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use migrations::testing::{TestDatabase, fresh_database};
use notification::{
    DeliveryMetrics, DeliverySettings, DeliveryWaker, DeliveryWorker, Email, FindYourFirm,
    FirmLink, ManualClock, MessageFilter, OutboxMessage, OutboxMessageId, OutboxStatus,
    PasswordReset, QueuedMessage, RenderedEmail, Renderer, Transport, enqueue, enqueue_platform,
    find_message, list_messages,
};
use sea_orm::{ConnectionTrait, Statement};
use storage::Database;
use tenancy::{NewTenant, Tenant, TenantSlug, create_tenant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A fixed start for clocks, so timings in assertions are exact.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
}

pub async fn firm(db: &Database, slug: &str, name: &str) -> Tenant {
    let new = NewTenant::new(TenantSlug::parse(slug).unwrap(), name, "admin@firm.test").unwrap();
    create_tenant(db, new, t0()).await.unwrap()
}

/// A fresh database holding one firm.
pub async fn database_with_firm(slug: &str, name: &str) -> (TestDatabase, Tenant) {
    let database = fresh_database().await;
    let firm = firm(&database.connection, slug, name).await;
    (database, firm)
}

pub fn settings() -> DeliverySettings {
    let mut settings = DeliverySettings::new("Latchkey <no-reply@latchkey.test>").unwrap();
    settings.max_attempts = 5;
    settings.retry_base = Duration::from_secs(10);
    settings.lease = Duration::from_secs(60);
    settings
}

pub fn reset_email(firm: &Tenant, name: &str) -> RenderedEmail {
    let email = Email::from(PasswordReset {
        name: name.to_owned(),
        url: format!("https://{}.latchkey.test/reset/tok.secret", firm.slug),
        expires_in_minutes: 15,
    });
    Renderer::new().render(&email, firm, None).unwrap()
}

/// The "Find your firm" list, which the platform sends in its own name.
pub fn platform_email() -> RenderedEmail {
    let email = Email::from(FindYourFirm {
        firms: vec![FirmLink {
            name: "ACME Accountants".into(),
            url: "https://acme.latchkey.test/login".into(),
        }],
    });
    Renderer::new()
        .render_platform(&email, "Latchkey", None)
        .unwrap()
}

/// Queues a reset email to Ann of `firm`, in `db` or in a transaction.
pub async fn enqueue_reset(
    db: &impl ConnectionTrait,
    firm: &Tenant,
    recipient: &str,
) -> QueuedMessage {
    enqueue(db, firm.id, recipient, &reset_email(firm, "Ann"), t0())
        .await
        .unwrap()
}

/// Queues the platform's "Find your firm" list to Ann.
pub async fn enqueue_platform_list(db: &Database) -> QueuedMessage {
    enqueue_platform(db, "ann@client.test", &platform_email(), t0())
        .await
        .unwrap()
}

/// The ids of the first ten messages `filter` lists.
pub async fn listed_ids(db: &Database, filter: MessageFilter) -> Vec<OutboxMessageId> {
    list_messages(db, filter, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|message| message.id)
        .collect()
}

/// A worker with the tests' settings and a clock they move.
pub fn worker(db: &Database, transport: Transport, clock: &ManualClock) -> DeliveryWorker {
    worker_with(db, transport, settings(), DeliveryWaker::default(), clock)
}

/// A worker as [`worker`] that counts what it does in `metrics`.
pub fn metered_worker(
    db: &Database,
    transport: Transport,
    clock: &ManualClock,
    metrics: DeliveryMetrics,
) -> DeliveryWorker {
    worker_with(
        db,
        transport,
        settings(),
        DeliveryWaker::new(Some(metrics)),
        clock,
    )
}

pub fn worker_with(
    db: &Database,
    transport: Transport,
    settings: DeliverySettings,
    waker: DeliveryWaker,
    clock: &ManualClock,
) -> DeliveryWorker {
    DeliveryWorker::with_clock(
        db.clone(),
        transport,
        settings,
        waker,
        Arc::new(clock.clone()),
    )
}

/// The message `id` as stored, once it is asserted to be `status` after `attempts`.
pub async fn stored_message(
    db: &Database,
    id: OutboxMessageId,
    status: OutboxStatus,
    attempts: u32,
) -> OutboxMessage {
    let message = find_message(db, id).await.unwrap().expect("the message");
    assert_eq!(message.status, status, "{id}");
    assert_eq!(message.attempts, attempts, "{id}");
    message
}

pub async fn status_of(db: &Database, id: OutboxMessageId) -> OutboxStatus {
    let message = find_message(db, id).await.unwrap();
    message.expect("the message").status
}

/// The `n` of a query `SELECT COUNT(*) AS n …`.
pub async fn count(db: &impl ConnectionTrait, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .expect("a count")
        .try_get::<i64>("", "n")
        .unwrap()
}

/// How the scripted server answers RCPT TO.
#[derive(Debug, Clone, Copy)]
pub enum Script {
    /// `451` to the first RCPT, then accept.
    TransientOnce,
    /// `451` always.
    TransientAlways,
    /// `550` always, naming the recipient as real servers do.
    Reject,
    /// Accept the connection and never say a word.
    Hang,
}

/// A tiny SMTP server with scripted replies.
#[derive(Debug, Clone)]
pub struct SmtpStub {
    pub addr: SocketAddr,
    pub rcpt_attempts: Arc<Mutex<usize>>,
    /// The DATA of every accepted message.
    pub delivered: Arc<Mutex<Vec<String>>>,
}

impl SmtpStub {
    pub async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stub = Self {
            addr: listener.local_addr().unwrap(),
            rcpt_attempts: Arc::default(),
            delivered: Arc::default(),
        };
        let shared = stub.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move { shared.converse(socket, script).await });
            }
        });
        stub
    }

    pub fn url(&self) -> String {
        format!("smtp://{}?tls=none", self.addr)
    }

    pub fn rcpt_attempts(&self) -> usize {
        *self.rcpt_attempts.lock().unwrap()
    }

    pub fn delivered(&self) -> Vec<String> {
        self.delivered.lock().unwrap().clone()
    }

    async fn converse(&self, socket: tokio::net::TcpStream, script: Script) {
        let (reader, mut writer) = socket.into_split();
        if matches!(script, Script::Hang) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return;
        }
        let mut lines = BufReader::new(reader).lines();
        let _ = writer.write_all(b"220 stub ESMTP\r\n").await;
        while let Ok(Some(line)) = lines.next_line().await {
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply: String = match verb.as_str() {
                "EHLO" | "HELO" => "250-stub\r\n250 8BITMIME\r\n".into(),
                "MAIL" | "RSET" | "NOOP" => "250 OK\r\n".into(),
                "RCPT" => {
                    let attempt = {
                        let mut count = self.rcpt_attempts.lock().unwrap();
                        *count += 1;
                        *count
                    };
                    let address = line
                        .split_once('<')
                        .and_then(|(_, rest)| rest.split_once('>'))
                        .map_or("", |(address, _)| address);
                    match script {
                        Script::TransientOnce if attempt == 1 => {
                            "451 4.3.0 try again later\r\n".into()
                        }
                        Script::TransientAlways => "451 4.3.0 try again later\r\n".into(),
                        Script::Reject => format!("550 5.1.1 <{address}>: no such user\r\n"),
                        _ => "250 OK\r\n".into(),
                    }
                }
                "DATA" => {
                    let _ = writer.write_all(b"354 go ahead\r\n").await;
                    let mut data = String::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if line == "." {
                            break;
                        }
                        data.push_str(&line);
                        data.push('\n');
                    }
                    self.delivered.lock().unwrap().push(data);
                    "250 queued\r\n".into()
                }
                "QUIT" => {
                    let _ = writer.write_all(b"221 bye\r\n").await;
                    return;
                }
                _ => "500 unknown command\r\n".into(),
            };
            if writer.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}
