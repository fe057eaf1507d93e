//! Writing to the outbox and the operators' view of it.

use notification::{
    MessageFilter, NotificationError, OutboxStatus, count_messages, enqueue, find_message,
    list_messages, retry_message,
};
use sea_orm::TransactionTrait;
use tenancy::delete_tenant;

use crate::support::{database_with_firm, enqueue_reset, firm, reset_email, t0};

#[tokio::test]
async fn a_message_exists_exactly_when_its_transaction_commits() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;

    let transaction = db.begin().await.unwrap();
    enqueue_reset(&transaction, &acme, "ann@acme.test").await;
    transaction.rollback().await.unwrap();
    assert!(
        list_messages(db, MessageFilter::all(), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let transaction = db.begin().await.unwrap();
    let queued = enqueue_reset(&transaction, &acme, "ann@acme.test").await;
    transaction.commit().await.unwrap();
    let message = find_message(db, queued.id).await.unwrap().unwrap();
    assert_eq!(message.status, OutboxStatus::Queued);
    assert_eq!(message.tenant_id, Some(acme.id));
    assert_eq!(message.kind, "password_reset");
    assert_eq!(message.recipient, "ann@acme.test");
    assert_eq!(message.subject, "Password Reset");
    assert_eq!(message.attempts, 0);
    assert_eq!(message.next_attempt_at, t0());
    assert_eq!(message.created_at, t0());
    assert_eq!(message.sent_at, None);
}

#[tokio::test]
async fn recipients_and_subjects_cannot_smuggle_headers() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    let email = reset_email(&acme, "Ann");
    for recipient in [
        "ann@acme.test\r\nBcc: eve@evil.test",
        "ann@acme.test\nBcc: eve@evil.test",
        "ann@acme.test, eve@evil.test",
        "Ann <ann@acme.test>",
        "not an address",
        "",
    ] {
        let error = enqueue(db, acme.id, recipient, &email, t0())
            .await
            .unwrap_err();
        assert!(
            matches!(error, NotificationError::InvalidRecipient),
            "{recipient:?}"
        );
    }
    let mut bad_subject = email.clone();
    bad_subject.subject = "Password Reset\r\nBcc: eve@evil.test".to_owned();
    let error = enqueue(db, acme.id, "ann@acme.test", &bad_subject, t0())
        .await
        .unwrap_err();
    assert!(matches!(error, NotificationError::InvalidSubject));
    assert_eq!(count_messages(db).await.unwrap()[&OutboxStatus::Queued], 0);
}

#[tokio::test]
async fn operators_list_by_status_and_firm_newest_first() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    let bolt = firm(db, "bolt", "Bolt").await;
    let first = enqueue_reset(db, &acme, "a1@acme.test").await;
    let second = enqueue_reset(db, &acme, "a2@acme.test").await;
    let third = enqueue_reset(db, &bolt, "b1@bolt.test").await;

    let all = list_messages(db, MessageFilter::all(), 10).await.unwrap();
    let ids: Vec<_> = all.iter().map(|m| m.id).collect();
    assert_eq!(ids, [third.id, second.id, first.id]);
    assert_eq!(
        list_messages(db, MessageFilter::all(), 2)
            .await
            .unwrap()
            .len(),
        2
    );
    let acme_only = MessageFilter {
        tenant: Some(acme.id),
        ..MessageFilter::all()
    };
    assert_eq!(list_messages(db, acme_only, 10).await.unwrap().len(), 2);
    assert!(
        list_messages(db, MessageFilter::dead(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let counts = count_messages(db).await.unwrap();
    assert_eq!(counts[&OutboxStatus::Queued], 3);
    assert_eq!(counts[&OutboxStatus::Dead], 0);
}

#[tokio::test]
async fn only_dead_messages_can_be_retried() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    let queued = enqueue_reset(db, &acme, "ann@acme.test").await;
    let error = retry_message(db, queued.id, t0()).await.unwrap_err();
    assert!(matches!(
        error,
        NotificationError::NotDead(OutboxStatus::Queued)
    ));
    let unknown = "018f0000-0000-7000-8000-000000000000".parse().unwrap();
    assert!(matches!(
        retry_message(db, unknown, t0()).await,
        Err(NotificationError::UnknownMessage)
    ));
}

#[tokio::test]
async fn deleting_a_firm_deletes_its_messages() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    let bolt = firm(db, "bolt", "Bolt").await;
    enqueue_reset(db, &acme, "ann@acme.test").await;
    let kept = enqueue_reset(db, &bolt, "bob@bolt.test").await;
    delete_tenant(db, &acme.slug).await.unwrap();
    let left = list_messages(db, MessageFilter::all(), 10).await.unwrap();
    assert_eq!(left.iter().map(|m| m.id).collect::<Vec<_>>(), [kept.id]);
}
