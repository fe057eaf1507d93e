//! The file transport and the development mailbox that reads it.

use chrono::TimeDelta;
use notification::{
    FileMailbox, ManualClock, NotificationError, OutboxStatus, Transport, find_message,
};

use crate::support::{database_with_firm, enqueue_reset, status_of, t0, worker};

#[tokio::test]
async fn the_dev_mailbox_lists_newest_first_and_reads_one_message() {
    let (database, acme) = database_with_firm("acme", "ACME Accountants").await;
    let db = &database.connection;
    let folder = tempfile::tempdir().unwrap();
    let mail_dir = folder.path().join("mail");
    let clock = ManualClock::starting_at(t0());
    let worker = worker(
        db,
        Transport::from_config("file", None, &mail_dir).unwrap(),
        &clock,
    );
    let mailbox = FileMailbox::new(&mail_dir);
    assert!(mailbox.list(10).await.unwrap().is_empty(), "no folder yet");

    let mut ids = Vec::new();
    for n in 0..3 {
        let queued = enqueue_reset(db, &acme, &format!("c{n}@client.test")).await;
        clock.advance(TimeDelta::seconds(1));
        worker.deliver_due().await.unwrap();
        ids.push(queued.id.to_string());
    }
    let listed = mailbox.list(10).await.unwrap();
    let listed_ids: Vec<_> = listed.iter().map(|entry| entry.id.clone()).collect();
    ids.reverse();
    assert_eq!(listed_ids, ids);
    assert_eq!(mailbox.list(2).await.unwrap().len(), 2);
    let newest = &listed[0];
    assert_eq!(newest.to, "c2@client.test");
    assert_eq!(newest.subject, "Password Reset");
    assert_eq!(newest.tenant, "acme");
    assert_eq!(newest.kind, "password_reset");
    assert_eq!(newest.delivered_at, t0() + TimeDelta::seconds(3));
    assert!(newest.from.contains("ACME Accountants"), "{}", newest.from);

    let message = mailbox.read(&newest.id).await.unwrap().unwrap();
    assert!(message.html.contains(">Reset Password</a>"));
    assert!(
        message
            .text
            .contains("https://acme.latchkey.test/reset/tok.secret")
    );
    assert!(message.raw.contains("Subject: Password Reset"));
    assert!(message.raw.contains("To: c2@client.test"));
    let stored = find_message(db, newest.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, OutboxStatus::Sent);
    assert!(message.raw.contains(&stored.message_id.unwrap()));

    for missing in [
        "../../etc/passwd",
        "",
        "018f0000-0000-7000-8000-000000000000",
    ] {
        assert_eq!(mailbox.read(missing).await.unwrap(), None, "{missing}");
    }
}

#[tokio::test]
async fn the_log_transport_delivers_without_a_server() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    let clock = ManualClock::starting_at(t0());
    let worker = worker(
        db,
        Transport::from_config("log", None, "unused").unwrap(),
        &clock,
    );
    let queued = enqueue_reset(db, &acme, "ann@client.test").await;
    assert_eq!(worker.deliver_due().await.unwrap().sent, 1);
    assert_eq!(status_of(db, queued.id).await, OutboxStatus::Sent);
}

#[tokio::test]
async fn transports_come_from_the_configuration() {
    assert!(matches!(
        Transport::from_config("smtp", Some("smtps://user:pw@mail.test"), "d"),
        Ok(Transport::Smtp(_))
    ));
    assert!(matches!(
        Transport::from_config("smtp", None, "d"),
        Err(NotificationError::Transport(_))
    ));
    assert!(matches!(
        Transport::from_config("pigeon", None, "d"),
        Err(NotificationError::Transport(_))
    ));
    assert!(matches!(
        Transport::smtp("ftp://mail.test"),
        Err(NotificationError::Transport(_))
    ));
}

#[test]
fn an_smtp_transport_outside_a_runtime_is_an_error_not_a_panic() {
    assert!(matches!(
        Transport::smtp("smtp://127.0.0.1:25?tls=none"),
        Err(NotificationError::Transport(_))
    ));
}
