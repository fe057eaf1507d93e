//! Platform mail: messages that belong to no firm, such as the "Find your firm" list,
//! rendered and sent in the platform's name.

use migrations::testing::fresh_database;
use notification::{
    DeliveryWaker, DeliveryWorker, Email, FileMailbox, FindYourFirm, ManualClock, MessageFilter,
    OutboxMessageId, OutboxStatus, Renderer, Transport, find_message, list_messages,
};
use storage::Database;
use tenancy::delete_tenant;

use crate::support::{
    database_with_firm, enqueue_platform_list, enqueue_reset, listed_ids, platform_email, settings,
    t0, worker_with,
};

fn file_worker(db: &Database, folder: &std::path::Path, platform_name: &str) -> DeliveryWorker {
    let mut settings = settings();
    settings.platform_name = platform_name.to_owned();
    let clock = ManualClock::starting_at(t0());
    worker_with(
        db,
        Transport::file(folder),
        settings,
        DeliveryWaker::default(),
        &clock,
    )
}

#[test]
fn platform_mail_renders_in_the_platform_name_and_the_default_branding() {
    let rendered = platform_email();
    assert_eq!(rendered.subject, "Your client portals");
    assert_eq!(rendered.locale, "en");
    assert!(rendered.text.starts_with("Latchkey\n"), "{}", rendered.text);
    assert!(
        rendered
            .text
            .contains("- ACME Accountants: https://acme.latchkey.test/login")
    );
    assert!(
        rendered
            .text
            .contains("sent automatically by the Latchkey client portal")
    );
    assert!(rendered.html.contains("border-top:4px solid #1d4ed8"));
    assert!(!rendered.html.contains("<img"), "no firm's logo");

    let email: Email = FindYourFirm { firms: vec![] }.into();
    let italian = Renderer::new()
        .render_platform(&email, "Latchkey", Some("it"))
        .unwrap();
    assert_eq!(italian.subject, "I tuoi portali clienti");
}

#[tokio::test]
async fn platform_mail_is_sent_from_the_platform_and_listed_without_a_firm() {
    let (database, acme) = database_with_firm("acme", "ACME Accountants").await;
    let db = &database.connection;
    let firm_message = enqueue_reset(db, &acme, "ann@client.test").await;
    let platform_message = enqueue_platform_list(db).await;

    let listed = list_messages(db, MessageFilter::all(), 10).await.unwrap();
    let platform = listed
        .iter()
        .find(|message| message.id == platform_message.id)
        .unwrap();
    assert_eq!(platform.tenant_id, None);
    assert_eq!(platform.subject_id, None);
    assert_eq!(platform.kind, "find_your_firm");
    let acme_only = MessageFilter {
        tenant: Some(acme.id),
        ..MessageFilter::all()
    };
    assert_eq!(listed_ids(db, acme_only).await, [firm_message.id]);

    let folder = tempfile::tempdir().unwrap();
    let worker = file_worker(db, folder.path(), "Latchkey");
    assert_eq!(worker.deliver_due().await.unwrap().sent, 2);

    let mailbox = FileMailbox::new(folder.path());
    let mailbox = &mailbox;
    let read = |id: OutboxMessageId| async move {
        let message = mailbox.read(&id.to_string()).await.unwrap();
        message.expect("a delivered message")
    };
    let delivered = read(platform_message.id).await;
    assert_eq!(delivered.entry.tenant, "platform");
    assert_eq!(delivered.entry.from, "Latchkey <no-reply@latchkey.test>");
    assert!(
        delivered
            .raw
            .contains("From: Latchkey <no-reply@latchkey.test>"),
        "{}",
        delivered.raw
    );
    let firm_copy = read(firm_message.id).await;
    assert_eq!(firm_copy.entry.tenant, "acme");
    assert!(firm_copy.entry.from.starts_with("ACME Accountants <"));
    let stored = find_message(db, platform_message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, OutboxStatus::Sent);
    assert_eq!(stored.tenant_id, None);
}

#[tokio::test]
async fn the_platform_name_on_platform_mail_comes_from_the_settings() {
    let database = fresh_database().await;
    let db = &database.connection;
    let queued = enqueue_platform_list(db).await;
    let folder = tempfile::tempdir().unwrap();
    let worker = file_worker(db, folder.path(), "Portal Hub");
    assert_eq!(worker.deliver_due().await.unwrap().sent, 1);
    let delivered = FileMailbox::new(folder.path())
        .read(&queued.id.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivered.entry.from, "Portal Hub <no-reply@latchkey.test>");
}

#[tokio::test]
async fn deleting_a_firm_keeps_platform_mail() {
    let (database, acme) = database_with_firm("acme", "ACME").await;
    let db = &database.connection;
    enqueue_reset(db, &acme, "ann@client.test").await;
    let platform = enqueue_platform_list(db).await;
    delete_tenant(db, &acme.slug).await.unwrap();
    assert_eq!(listed_ids(db, MessageFilter::all()).await, [platform.id]);
}
