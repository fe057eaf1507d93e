//! "Find your firm" on the platform host: the same answer for every address, and one
//! email listing the firms where the address has an account.

use poem::http::StatusCode;
use poem::test::TestResponse;

use crate::fixture::{GatewayError, Mailbox};
use crate::helpers::{Browser, TestApp, body, spawn_app};

async fn setup() -> TestApp {
    let app = spawn_app().await;
    let acme = app.create_firm("acme", "ACME Corporation").await;
    let globex = app.create_firm("globex", "Globex Legal").await;
    let initech = app.create_firm("initech", "Initech IT").await;
    let client = app.create_client(&acme, "John A. Teague").await;
    app.create_contact(
        &acme,
        &client,
        "Pat",
        "pat@example.test",
        "correct horse battery",
    )
    .await;
    app.create_staff(
        &globex,
        "pat@example.test",
        "staff correct horse",
        identity::StaffRole::Staff,
    )
    .await;
    let suspended_client = app.create_client(&initech, "Hooli").await;
    app.create_contact(
        &initech,
        &suspended_client,
        "Pat",
        "pat@example.test",
        "correct horse battery",
    )
    .await;
    app.suspend(&initech).await;
    app
}

/// Sends "Find your firm" from the platform's page with `fields`.
async fn find_firm(visitor: &Browser<'_>, fields: &[(&str, &str)]) -> TestResponse {
    visitor.fill_in("/find-your-firm", fields).await
}

#[tokio::test]
async fn known_and_unknown_addresses_get_the_same_page_and_only_known_ones_an_email() {
    let app = setup().await;
    let visitor = Browser::new(&app, "localhost");
    let home = visitor.get("/").await;
    assert!(body(home).await.contains("/find-your-firm"));

    let mut pages = Vec::new();
    for typed in ["  PAT@example.test ", "nobody@example.test"] {
        let answer = find_firm(&visitor, &[("email", typed)]).await;
        assert_eq!(answer.0.status(), StatusCode::OK);
        pages.push(body(answer).await);
    }
    assert_eq!(
        pages[0], pages[1],
        "the answer says nothing about the address"
    );
    assert!(pages[0].contains("Check your email"));

    app.process_firm_lookups().await;
    let mailbox = Mailbox::new();
    let mailbox = mailbox.deliver(&app).await;
    let entries = mailbox.list(10).await.unwrap();
    assert_eq!(entries.len(), 1, "nothing goes to an unknown address");
    assert_eq!(entries[0].to, "pat@example.test");
    let message = mailbox.read(&entries[0].id).await.unwrap().unwrap();
    assert!(entries[0].from.contains("Latchkey"), "{}", entries[0].from);
    assert!(
        message.text.contains("ACME Corporation"),
        "{}",
        message.text
    );
    assert!(message.text.contains("http://acme.localhost/login"));
    assert!(message.text.contains("Globex Legal"));
    assert!(message.text.contains("http://globex.localhost/staff/login"));
    assert!(
        !message.text.contains("Initech"),
        "a suspended firm's portal is not offered"
    );
}

#[tokio::test]
async fn the_form_needs_its_csrf_token_one_email_field_and_respects_the_limits() {
    let app = setup().await;
    let visitor = Browser::new(&app, "localhost");
    let forged = visitor
        .post("/find-your-firm", &[("email", "pat@example.test")])
        .await;
    assert_eq!(forged.0.status(), StatusCode::FORBIDDEN);
    let doubled = [
        ("email", "pat@example.test"),
        ("email", "evil@attacker.test"),
    ];
    let doubled = find_firm(&visitor, &doubled).await;
    assert_eq!(doubled.0.status(), StatusCode::BAD_REQUEST);
    let malformed = find_firm(&visitor, &[("email", "not an address")]).await;
    assert_eq!(malformed.0.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Per address: three lists per window, the rest accepted but not sent.
    for _ in 0..5 {
        find_firm(&visitor, &[("email", "pat@example.test")])
            .await
            .assert_status_is_ok();
    }
    app.process_firm_lookups().await;
    let mailbox = Mailbox::new();
    let mailbox = mailbox.deliver(&app).await;
    assert_eq!(mailbox.list(20).await.unwrap().len(), 3);

    // Per client address: refused past `limits.forgot_per_address` (10) in the window.
    // Called directly, as the form would from that address.
    for _ in 0..10 {
        app.record_form("find-firm", "203.0.113.9").await.unwrap();
    }
    let refused = app.record_form("find-firm", "203.0.113.9").await;
    assert!(matches!(refused, Err(GatewayError::TooManyAttempts { .. })));
    // Another address, and the other form's bucket, are not affected.
    app.record_form("find-firm", "203.0.113.10").await.unwrap();
    app.record_form("forgot", "203.0.113.9").await.unwrap();
}
