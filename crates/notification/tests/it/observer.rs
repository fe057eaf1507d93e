//! The delivery observer: final outcomes of messages about an account, reported in
//! the transaction that records them, so the observer's writes and the outcome
//! commit or roll back together.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;
use migrations::testing::{TestDatabase, fresh_database};
use notification::{
    Clock, DeliveryEvent, DeliveryObserver, DeliveryOutcome, DeliveryReport, DeliveryWorker,
    FileMailbox, ManualClock, ObserverFuture, OutboxStatus, QueuedMessage, Transport,
    enqueue_about, find_message,
};
use sea_orm::{ConnectionTrait, DbErr};
use storage::Database;
use storage::Transaction;
use tenancy::Tenant;
use uuid::Uuid;

use crate::support::{
    Script, SmtpStub, count, enqueue_platform_list, enqueue_reset, firm, reset_email,
    stored_message, t0, worker,
};

/// Writes each outcome to a table of its own in the worker's transaction, as the
/// audit trail does, and can be told to fail after writing.
#[derive(Debug, Default)]
struct Recorder {
    events: Mutex<Vec<DeliveryEvent>>,
    fail: AtomicBool,
}

impl Recorder {
    fn events(&self) -> Vec<DeliveryEvent> {
        self.events.lock().unwrap().clone()
    }

    async fn record(&self, txn: &Transaction, event: &DeliveryEvent) -> Result<(), DbErr> {
        let outcome = match event.outcome {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::Dead { .. } => "dead",
        };
        txn.execute_unprepared(&format!(
            "INSERT INTO observed_outcomes (message_id, outcome) VALUES ('{}', '{outcome}')",
            event.message_id
        ))
        .await?;
        if self.fail.load(Ordering::SeqCst) {
            return Err(DbErr::Custom("the audit trail is unavailable".to_owned()));
        }
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}

impl DeliveryObserver for Recorder {
    fn delivered<'t>(&'t self, tx: &'t Transaction, ev: &'t DeliveryEvent) -> ObserverFuture<'t> {
        Box::pin(self.record(tx, ev))
    }
}

async fn observed_table(db: &Database) {
    db.execute_unprepared(
        "CREATE TABLE observed_outcomes (message_id VARCHAR(64) NOT NULL, \
         outcome VARCHAR(16) NOT NULL)",
    )
    .await
    .unwrap();
}

async fn observed_rows(db: &Database) -> i64 {
    count(db, "SELECT COUNT(*) AS n FROM observed_outcomes").await
}

fn observed_worker(
    db: &Database,
    transport: Transport,
    clock: &ManualClock,
    recorder: &Arc<Recorder>,
) -> DeliveryWorker {
    worker(db, transport, clock).with_observer(Arc::clone(recorder) as Arc<dyn DeliveryObserver>)
}

/// A database with the recorder's table and a reset email from ACME about one of its
/// contacts, to `recipient`.
async fn a_message_about_a_contact(recipient: &str) -> (TestDatabase, Tenant, Uuid, QueuedMessage) {
    let database = fresh_database().await;
    let db = &database.connection;
    observed_table(db).await;
    let acme = firm(db, "acme", "ACME").await;
    let contact = Uuid::now_v7();
    let queued = enqueue_about(
        db,
        acme.id,
        contact,
        recipient,
        &reset_email(&acme, "Ann"),
        t0(),
    )
    .await
    .unwrap();
    (database, acme, contact, queued)
}

#[tokio::test]
async fn the_observer_hears_a_sent_message_with_its_subject_and_no_retry() {
    let (database, acme, contact, about) = a_message_about_a_contact("ann@client.test").await;
    let db = &database.connection;
    assert_eq!(
        find_message(db, about.id)
            .await
            .unwrap()
            .unwrap()
            .subject_id,
        Some(contact)
    );
    let stub = SmtpStub::start(Script::TransientOnce).await;
    let clock = ManualClock::starting_at(t0());
    let recorder = Arc::new(Recorder::default());
    let worker = observed_worker(db, Transport::smtp(&stub.url()).unwrap(), &clock, &recorder);
    assert_eq!(worker.deliver_due().await.unwrap().retried, 1);
    assert!(recorder.events().is_empty(), "a retry is not an outcome");
    assert_eq!(observed_rows(db).await, 0);

    // Neither of these names an account, so neither is reported.
    enqueue_reset(db, &acme, "bob@client.test").await;
    enqueue_platform_list(db).await;
    clock.advance(TimeDelta::minutes(5));
    assert_eq!(worker.deliver_due().await.unwrap().sent, 3);

    let events = recorder.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.message_id, about.id);
    assert_eq!(event.tenant_id, acme.id);
    assert_eq!(event.subject_id, contact);
    assert_eq!(event.kind, "password_reset");
    assert_eq!(event.outcome, DeliveryOutcome::Sent);
    assert_eq!(event.at, clock.now());
    assert_eq!(observed_rows(db).await, 1);
}

#[tokio::test]
async fn the_observer_hears_a_dead_message_with_its_error() {
    let (database, _acme, contact, queued) = a_message_about_a_contact("nobody@client.test").await;
    let db = &database.connection;
    let stub = SmtpStub::start(Script::Reject).await;
    let clock = ManualClock::starting_at(t0());
    let recorder = Arc::new(Recorder::default());
    let worker = observed_worker(db, Transport::smtp(&stub.url()).unwrap(), &clock, &recorder);
    assert_eq!(worker.deliver_due().await.unwrap().dead, 1);

    let events = recorder.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].message_id, queued.id);
    assert_eq!(events[0].subject_id, contact);
    let DeliveryOutcome::Dead { error } = &events[0].outcome else {
        panic!("expected a dead outcome: {:?}", events[0].outcome);
    };
    assert!(error.contains("550"), "{error}");
    let stored = find_message(db, queued.id).await.unwrap().unwrap();
    assert_eq!(stored.status, OutboxStatus::Dead);
    assert_eq!(stored.last_error.as_ref(), Some(error));
}

#[tokio::test]
async fn a_failing_observer_leaves_the_message_to_be_claimed_again() {
    let (database, _acme, _contact, queued) = a_message_about_a_contact("ann@client.test").await;
    let db = &database.connection;
    let folder = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_at(t0());
    let recorder = Arc::new(Recorder::default());
    recorder.fail.store(true, Ordering::SeqCst);
    let worker = observed_worker(db, Transport::file(folder.path()), &clock, &recorder);

    let report = worker.deliver_due().await.unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            claimed: 1,
            ..DeliveryReport::default()
        }
    );
    // Neither the outcome nor the observer's own write survived.
    let pending = find_message(db, queued.id).await.unwrap().unwrap();
    assert_eq!(pending.status, OutboxStatus::Sending);
    assert_eq!(pending.sent_at, None);
    assert_eq!(observed_rows(db).await, 0);
    assert!(recorder.events().is_empty());

    // The lease (60 s) still holds, then the message is due again.
    clock.advance(TimeDelta::seconds(59));
    assert_eq!(worker.deliver_due().await.unwrap().claimed, 0);
    recorder.fail.store(false, Ordering::SeqCst);
    clock.advance(TimeDelta::seconds(2));
    assert_eq!(worker.deliver_due().await.unwrap().sent, 1);

    stored_message(db, queued.id, OutboxStatus::Sent, 2).await;
    assert_eq!(observed_rows(db).await, 1);
    let events = recorder.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, DeliveryOutcome::Sent);
    // At least once: the first copy went out before its outcome was rolled back.
    let copies = FileMailbox::new(folder.path()).list(10).await.unwrap();
    assert_eq!(copies.len(), 2);
    assert!(copies.iter().all(|copy| copy.id == queued.id.to_string()));
}
