//! The worker against real SMTP servers: delivery, retries with a moved clock,
//! dead letters, a worker killed mid-send, and two workers on one outbox.

use std::collections::HashSet;
use std::time::Duration;

use chrono::TimeDelta;
use migrations::testing::TestDatabase;
use notification::{
    DeliveryMetrics, DeliveryReport, DeliveryWaker, DeliveryWorker, EmailKind, FileMailbox,
    ManualClock, MessageFilter, OutboxStatus, QueuedMessage, Transport, count_messages, enqueue,
    find_message, list_messages, oldest_unsent_message_at, retry_message,
};
use prometheus::Registry;
use prometheus::proto::MetricType;
use sea_orm::{ConnectionTrait, Statement};
use storage::Database;

use crate::support::{
    Script, SmtpStub, count, database_with_firm, enqueue_reset, metered_worker, reset_email,
    settings, status_of, stored_message, t0, worker, worker_with,
};

fn report(claimed: usize, sent: usize, retried: usize, dead: usize) -> DeliveryReport {
    DeliveryReport {
        claimed,
        sent,
        retried,
        dead,
    }
}

/// Moves the clock by each step's delay and asserts what the worker then delivers.
async fn deliver_in_steps(
    clock: &ManualClock,
    worker: &DeliveryWorker,
    steps: &[(TimeDelta, DeliveryReport)],
) {
    let mut waited = TimeDelta::zero();
    for (delay, expected) in steps {
        clock.advance(*delay);
        waited += *delay;
        let report = worker.deliver_due().await.unwrap();
        assert_eq!(report, *expected, "after {waited}");
    }
}

fn metric(registry: &Registry, name: &str, label: &str) -> f64 {
    let mut total = 0.0;
    for family in registry.gather() {
        if family.name() != name {
            continue;
        }
        for metric in family.get_metric() {
            if !metric.get_label().iter().any(|pair| pair.value() == label) {
                continue;
            }
            total += match family.get_field_type() {
                MetricType::COUNTER => metric.get_counter().get_value(),
                MetricType::GAUGE => metric.get_gauge().get_value(),
                _ => metric.get_histogram().get_sample_count() as f64,
            };
        }
    }
    total
}

async fn mailcrab() -> (mailcrab::TestMailServerHandle, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let handle = mailcrab::development_mail_server([127, 0, 0, 1], port).await;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (handle, port);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("mailcrab did not start on port {port}");
}

/// ACME's reset email to Ann, queued at `t0()`, and a worker on a clock at `t0()` that
/// sends through a stub answering by `script`.
async fn stubbed(
    script: Script,
) -> (
    TestDatabase,
    SmtpStub,
    ManualClock,
    DeliveryWorker,
    QueuedMessage,
) {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    let stub = SmtpStub::start(script).await;
    let clock = ManualClock::starting_at(t0());
    let worker = worker(db, Transport::smtp(&stub.url()).unwrap(), &clock);
    let queued = enqueue_reset(db, &acme, "ann@client.test").await;
    (database, stub, clock, worker, queued)
}

#[tokio::test]
async fn a_reset_email_reaches_a_real_smtp_server_from_the_firm() {
    let (database, acme) = database_with_firm("acme", "ACME Accountants").await;
    let db = &database.connection;
    let (mut server, port) = mailcrab().await;
    let registry = Registry::new();
    let metrics = DeliveryMetrics::register(&registry).unwrap();
    let clock = ManualClock::starting_at(t0());
    let transport = Transport::smtp(&format!("smtp://127.0.0.1:{port}?tls=none")).unwrap();
    let worker = metered_worker(db, transport, &clock, metrics);
    // The name would add a header if anything put it in one unencoded.
    let email = reset_email(&acme, "Ann\r\nBcc: eve@evil.test");
    let queued = enqueue(db, acme.id, "ann@client.test", &email, t0())
        .await
        .unwrap();
    worker.waker().notify(&queued);
    clock.advance(TimeDelta::seconds(2));

    assert_eq!(worker.deliver_due().await.unwrap(), report(1, 1, 0, 0));

    let received = tokio::time::timeout(Duration::from_secs(10), server.rx.recv())
        .await
        .expect("the server received the message")
        .unwrap();
    assert_eq!(received.envelope_recipients, ["ann@client.test"]);
    assert_eq!(received.envelope_from, "no-reply@latchkey.test");
    let json = serde_json::to_value(&received).unwrap();
    assert_eq!(json["subject"], "Password Reset");
    assert_eq!(json["from"]["name"], "ACME Accountants");
    assert_eq!(json["from"]["email"], "no-reply@latchkey.test");
    assert_eq!(json["to"].as_array().unwrap().len(), 1);
    let text = json["text"].as_str().unwrap();
    let html = json["html"].as_str().unwrap();
    assert!(text.contains("https://acme.latchkey.test/reset/tok.secret"));
    assert!(html.contains(">Reset Password</a>"));
    let raw = String::from_utf8(received.raw_bytes().unwrap()).unwrap();
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(!headers.to_ascii_lowercase().contains("bcc"), "{headers}");
    assert!(body.contains("Hello Ann  Bcc: eve@evil.test,"), "{body}");

    let stored = stored_message(db, queued.id, OutboxStatus::Sent, 1).await;
    assert_eq!(stored.sent_at, Some(t0() + TimeDelta::seconds(2)));
    let message_id = stored.message_id.unwrap();
    assert_eq!(message_id, format!("<{}@latchkey.test>", queued.id));
    assert!(raw.contains(&format!("Message-ID: {message_id}")), "{raw}");

    // The link is of no further use in the database, where a leak would expose it.
    let bodies = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT html_body, text_body FROM outbox_messages",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bodies.try_get::<String>("", "html_body").unwrap(), "");
    assert_eq!(bodies.try_get::<String>("", "text_body").unwrap(), "");

    assert_eq!(
        metric(&registry, "email_queued_total", "password_reset"),
        1.0
    );
    assert_eq!(metric(&registry, "email_sent_total", "password_reset"), 1.0);
    assert_eq!(
        metric(&registry, "email_delivery_seconds", "password_reset"),
        1.0
    );
    assert_eq!(metric(&registry, "email_outbox_messages", "queued"), 0.0);
    server.token.cancel();
}

#[tokio::test]
async fn a_4xx_reply_is_retried_after_the_backoff() {
    let (database, stub, clock, worker, queued) = stubbed(Script::TransientOnce).await;
    let db = &database.connection;

    assert_eq!(worker.deliver_due().await.unwrap(), report(1, 0, 1, 0));
    let waiting = stored_message(db, queued.id, OutboxStatus::Queued, 1).await;
    let error = waiting.last_error.unwrap();
    assert!(error.contains("451"), "{error}");
    // retry_base (10 s) * 2^0, moved by at most 20%.
    let delay = waiting.next_attempt_at - t0();
    assert!(
        delay >= TimeDelta::seconds(8) && delay <= TimeDelta::seconds(12),
        "{delay}"
    );

    // Not yet due: nothing is claimed, nothing is sent.
    let steps = [
        (TimeDelta::seconds(7), report(0, 0, 0, 0)),
        (TimeDelta::seconds(6), report(1, 1, 0, 0)),
    ];
    deliver_in_steps(&clock, &worker, &steps).await;

    let sent = stored_message(db, queued.id, OutboxStatus::Sent, 2).await;
    assert_eq!(sent.last_error, None);
    assert_eq!(stub.rcpt_attempts(), 2);
    assert_eq!(stub.delivered().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clock = ManualClock::starting_at(t0());
    let transport = Transport::smtp(&format!("smtp://127.0.0.1:{closed_port}?tls=none")).unwrap();
    let worker = worker(db, transport, &clock);
    let queued = enqueue_reset(db, &acme, "ann@client.test").await;
    assert_eq!(worker.deliver_due().await.unwrap(), report(1, 0, 1, 0));
    assert_eq!(status_of(db, queued.id).await, OutboxStatus::Queued);
}

#[tokio::test]
async fn a_5xx_reply_kills_the_message_at_once_and_an_operator_revives_it() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    let stub = SmtpStub::start(Script::Reject).await;
    let registry = Registry::new();
    let metrics = DeliveryMetrics::register(&registry).unwrap();
    let clock = ManualClock::starting_at(t0());
    let worker = metered_worker(db, Transport::smtp(&stub.url()).unwrap(), &clock, metrics);
    let queued = enqueue_reset(db, &acme, "nobody@client.test").await;

    assert_eq!(worker.deliver_due().await.unwrap(), report(1, 0, 0, 1));
    let dead = stored_message(db, queued.id, OutboxStatus::Dead, 1).await;
    let error = dead.last_error.unwrap();
    assert!(error.contains("550"), "{error}");
    assert!(
        !error.contains("nobody@"),
        "only the domain is kept: {error}"
    );
    assert_eq!(stub.rcpt_attempts(), 1);
    assert_eq!(metric(&registry, "email_dead_total", "password_reset"), 1.0);
    assert_eq!(metric(&registry, "email_outbox_messages", "dead"), 1.0);
    let listed = list_messages(db, MessageFilter::dead(), 10).await.unwrap();
    assert_eq!(listed.len(), 1);

    clock.advance(TimeDelta::hours(5));
    assert_eq!(worker.deliver_due().await.unwrap(), report(0, 0, 0, 0));
    // A dead reset link is wiped, and never sent again, stale: a retry must issue a new
    // one (the gateway does).
    let refused = retry_message(db, queued.id, notification::Clock::now(&clock)).await;
    assert!(
        matches!(
            refused,
            Err(notification::NotificationError::MustReissue(
                notification::EmailKind::PasswordReset
            ))
        ),
        "{refused:?}"
    );
    let unwiped = count(
        db,
        "SELECT COUNT(*) AS n FROM outbox_messages \
         WHERE status = 'dead' AND (text_body <> '' OR html_body <> '')",
    )
    .await;
    assert_eq!(unwiped, 0, "the dead link is not kept at rest");

    // Mail without a credential is revived as it was.
    let list = notification::enqueue_platform(
        db,
        "nobody@client.test",
        &crate::support::platform_email(),
        notification::Clock::now(&clock),
    )
    .await
    .unwrap();
    assert_eq!(worker.deliver_due().await.unwrap(), report(1, 0, 0, 1));
    let revived = retry_message(db, list.id, notification::Clock::now(&clock))
        .await
        .unwrap();
    assert_eq!(revived.status, OutboxStatus::Queued);
    assert_eq!(revived.attempts, 0);
    assert_eq!(worker.deliver_due().await.unwrap(), report(1, 0, 0, 1));
    assert_eq!(stub.rcpt_attempts(), 3);
}

#[tokio::test]
async fn a_message_dies_after_max_attempts() {
    let (database, stub, clock, worker, queued) = stubbed(Script::TransientAlways).await;
    let db = &database.connection;

    let mut previous_delay = TimeDelta::zero();
    for attempt in 1..=4u32 {
        assert_eq!(worker.deliver_due().await.unwrap(), report(1, 0, 1, 0));
        let message = find_message(db, queued.id).await.unwrap().unwrap();
        assert_eq!(message.attempts, attempt);
        let delay = message.next_attempt_at - notification::Clock::now(&clock);
        // Each delay is about twice the one before (±20% jitter each).
        let nominal = TimeDelta::seconds(10 * 2i64.pow(attempt - 1));
        assert!(
            delay >= nominal * 8 / 10 && delay <= nominal * 12 / 10,
            "{attempt}: {delay}"
        );
        assert!(delay > previous_delay);
        previous_delay = delay;
        clock.advance(delay + TimeDelta::seconds(1));
    }
    // The fifth attempt is the last one settings() allows.
    assert_eq!(worker.deliver_due().await.unwrap(), report(1, 0, 0, 1));
    stored_message(db, queued.id, OutboxStatus::Dead, 5).await;
    assert_eq!(stub.rcpt_attempts(), 5);
}

#[tokio::test]
async fn a_worker_killed_mid_send_loses_nothing_and_sends_once() {
    let (database, hanging, clock, doomed, queued) = stubbed(Script::Hang).await;
    let db = &database.connection;

    let task = tokio::spawn(async move { doomed.deliver_due().await });
    let mut claimed = false;
    for _ in 0..500 {
        let message = find_message(db, queued.id).await.unwrap().unwrap();
        if message.status == OutboxStatus::Sending {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(claimed, "the first worker claimed the message");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    let folder = tempfile::tempdir().unwrap();
    let survivor = worker(db, Transport::file(folder.path()), &clock);
    // The lease (60 s) still holds: the message is not taken from its worker.
    let steps = [
        (TimeDelta::seconds(59), report(0, 0, 0, 0)),
        (TimeDelta::seconds(2), report(1, 1, 0, 0)),
        (TimeDelta::hours(2), report(0, 0, 0, 0)),
    ];
    deliver_in_steps(&clock, &survivor, &steps).await;

    stored_message(db, queued.id, OutboxStatus::Sent, 2).await;
    let delivered = FileMailbox::new(folder.path()).list(10).await.unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].id, queued.id.to_string());
    assert!(hanging.delivered().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_one_outbox_send_every_message_exactly_once() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    let mut expected = HashSet::new();
    for n in 0..40 {
        let queued = enqueue_reset(db, &acme, &format!("c{n}@client.test")).await;
        expected.insert(queued.id.to_string());
    }
    // Each worker has its own pool, as two processes would.
    let other_pool = storage::connect(&database.url, 5).await.unwrap();
    let folder = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_at(t0());
    let mut small_batches = settings();
    small_batches.batch = 3;
    let pools = [db.clone(), other_pool];
    let workers = pools.clone().map(|pool| {
        let transport = Transport::file(folder.path());
        let waker = DeliveryWaker::default();
        worker_with(&pool, transport, small_batches.clone(), waker, &clock)
    });
    let run = |worker: DeliveryWorker, pool: Database| async move {
        let mut sent = 0;
        for _ in 0..1000 {
            let report = worker.deliver_due().await.unwrap();
            sent += report.sent;
            // Claiming nothing may only mean the other worker won these rows.
            if report.claimed == 0 {
                let counts = count_messages(&pool).await.unwrap();
                if counts[&OutboxStatus::Queued] + counts[&OutboxStatus::Sending] == 0 {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        sent
    };
    let [first, second] = workers;
    let [first_pool, second_pool] = pools;
    let first = tokio::spawn(run(first, first_pool));
    let second = tokio::spawn(run(second, second_pool));
    let (sent_by_first, sent_by_second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(sent_by_first + sent_by_second, 40);

    let counts = count_messages(db).await.unwrap();
    assert_eq!(counts[&OutboxStatus::Sent], 40);
    let delivered = FileMailbox::new(folder.path()).list(1000).await.unwrap();
    assert_eq!(delivered.len(), 40, "no message was delivered twice");
    let ids: HashSet<String> = delivered.into_iter().map(|entry| entry.id).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn a_running_worker_delivers_at_once_when_woken_and_stops_on_shutdown() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    let folder = tempfile::tempdir().unwrap();
    let mut slow_poll = settings();
    // Only the waker can explain a delivery within the test's deadline.
    slow_poll.poll_interval = Duration::from_secs(600);
    let worker = DeliveryWorker::new(
        db.clone(),
        Transport::file(folder.path()),
        slow_poll,
        DeliveryWaker::default(),
    );
    let waker = worker.waker();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        stopped.await.ok();
    }));
    // Let the first (empty) pass finish, so the worker is asleep.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let email = reset_email(&acme, "Ann");
    let queued = enqueue(db, acme.id, "ann@client.test", &email, chrono::Utc::now())
        .await
        .unwrap();
    waker.notify(&queued);
    let mailbox = FileMailbox::new(folder.path());
    let started = std::time::Instant::now();
    while mailbox.list(10).await.unwrap().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(5), "not delivered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the worker stops on shutdown")
        .unwrap();
    assert_eq!(status_of(db, queued.id).await, OutboxStatus::Sent);
}

/// The outbox's age is its oldest message still waiting: none while it is empty, the
/// first written while two wait, none again once both are sent.
#[tokio::test]
async fn the_oldest_unsent_message_is_the_first_still_waiting() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    assert_eq!(oldest_unsent_message_at(db).await.unwrap(), None);

    enqueue(
        db,
        acme.id,
        "ann@client.test",
        &reset_email(&acme, "Ann"),
        t0(),
    )
    .await
    .unwrap();
    let later = t0() + TimeDelta::minutes(3);
    enqueue(
        db,
        acme.id,
        "bob@client.test",
        &reset_email(&acme, "Bob"),
        later,
    )
    .await
    .unwrap();
    assert_eq!(oldest_unsent_message_at(db).await.unwrap(), Some(t0()));

    let folder = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_at(later + TimeDelta::seconds(1));
    let sent = worker(db, Transport::file(folder.path()), &clock)
        .deliver_due()
        .await
        .unwrap();
    assert_eq!(sent, report(2, 2, 0, 0));
    assert_eq!(oldest_unsent_message_at(db).await.unwrap(), None);
}

/// Each kind's counters exist at zero before any email: an alert on the increase of
/// dead emails then sees the first one.
#[tokio::test]
async fn every_kind_is_counted_from_zero_before_any_email() {
    let registry = Registry::new();
    DeliveryMetrics::register(&registry).unwrap();
    let families = registry.gather();
    for name in [
        "email_queued_total",
        "email_sent_total",
        "email_retried_total",
        "email_dead_total",
    ] {
        let family = families
            .iter()
            .find(|family| family.name() == name)
            .unwrap_or_else(|| panic!("{name} is registered"));
        for kind in EmailKind::ALL {
            assert!(
                family.get_metric().iter().any(|metric| metric
                    .get_label()
                    .iter()
                    .any(|pair| pair.value() == kind.as_str())),
                "{name} has no series for {}",
                kind.as_str()
            );
        }
        assert_eq!(metric(&registry, name, "password_reset"), 0.0);
    }
}
