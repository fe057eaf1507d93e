//! The whole staff flow over HTTP: Reset Password → the email → the link → a new
//! password → sign-in; and "Forgot your password?" through the worker.

use std::sync::Arc;

use identity::StaffRole;
use poem::http::StatusCode;

use crate::fixture::{CONTACT_PASSWORD, Firm, Mailbox, NEW_PASSWORD, one_attempt};
use crate::helpers::{Browser, TestApp, body, location, spawn_app};

/// ACME with its contact, and a plain staff member (not an administrator) who presses
/// the buttons.
async fn setup(app: &TestApp) -> (Firm, Browser<'_>) {
    let firm = app.firm_named("acme", "ACME Corporation").await;
    let staff = app.signed_in_staff(&firm, StaffRole::Staff).await;
    (firm, staff)
}

#[tokio::test]
async fn staff_reset_email_link_new_password_sign_in() {
    let app = spawn_app().await;
    let (firm, staff) = setup(&app).await;
    let mailbox = Mailbox::new();

    let pressed = staff.press_reset(&firm.contact).await;
    pressed.assert_status(StatusCode::SEE_OTHER);
    let notice = staff.text(&location(&pressed)).await;
    assert!(
        notice.contains("A Password Reset email is on its way to Body Boom"),
        "{notice}"
    );
    assert!(
        notice.contains("queued"),
        "the row shows the email's delivery state"
    );

    let (link, text) = mailbox.link_to(&app, "body.boom@acme.test").await;
    assert!(
        text.contains("Password Reset") && text.contains("15 minutes"),
        "{text}"
    );
    assert!(link.starts_with("http://acme.localhost/reset/"), "{link}");
    assert!(staff.text(&firm.contacts_page()).await.contains(">sent<"));

    let contact_browser = Browser::new(&app, "acme.localhost");
    contact_browser
        .open_link(&link)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let done = contact_browser.choose_password(NEW_PASSWORD).await;
    assert_eq!(location(&done), "/login?notice=password-changed");

    let old = contact_browser
        .sign_in_contact("body.boom@acme.test", CONTACT_PASSWORD)
        .await;
    assert!(body(old).await.contains("Email or password is incorrect"));
    let new = contact_browser
        .sign_in_contact("body.boom@acme.test", NEW_PASSWORD)
        .await;
    assert_eq!(location(&new), "/");

    let subjects = mailbox.subjects(&app).await;
    assert!(
        subjects
            .iter()
            .any(|subject| subject == "Your password was changed"),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn with_javascript_the_button_gets_json() {
    let app = spawn_app().await;
    let (firm, staff) = setup(&app).await;
    let response = staff
        .press_reset_by_script(&firm.contact, &[("x-requested-with", "fetch")])
        .await;
    response.assert_status_is_ok();
    assert_eq!(body(response).await, r#"{"status":"queued"}"#);
}

/// With the staff session over (expired, signed out elsewhere), the button's request
/// must not come back as the sign-in page's 200, which the script took for "Success".
#[tokio::test]
async fn an_ended_session_tells_the_button_401_and_sends_nothing() {
    let app = spawn_app().await;
    let (firm, staff) = setup(&app).await;
    let token = staff.csrf_token(&firm.contacts_page()).await;
    let csrf = staff.cookie("latchkey_csrf").unwrap();
    let ended = Browser::new(&app, "acme.localhost");
    ended.set_cookie("latchkey_csrf", &csrf);
    let forged = Browser::new(&app, "acme.localhost");
    forged.set_cookie("latchkey_csrf", &csrf);
    forged.set_cookie("latchkey_staff", "forged-session");
    let fetch = [("x-requested-with", "fetch")];

    let answer = ended.post_by_script(&firm.contact, &token, &fetch).await;
    answer.assert_status(StatusCode::UNAUTHORIZED);
    answer.assert_content_type("application/json; charset=utf-8");
    assert_eq!(
        body(answer).await,
        r#"{"sign_in":"/staff/login","status":"sign_in_required"}"#
    );
    forged
        .post_by_script(&firm.contact, &token, &fetch)
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let queued = app.queued_emails().await;
    assert!(queued.is_empty(), "nothing was sent: {queued:?}");
}

#[tokio::test]
async fn poisoned_host_headers_never_reach_the_link() {
    let app = spawn_app().await;
    let firm = app.firm_named("acme", "ACME Corporation").await;
    let email = app.add_staff(&firm, StaffRole::Staff).await;
    let staff = app.staff_browser("ACME.localhost:8080", &email).await;
    let response = staff
        .press_reset_by_script(
            &firm.contact,
            &[
                ("x-forwarded-host", "evil.test"),
                ("forwarded", "host=evil.test;proto=https"),
                ("x-forwarded-proto", "https"),
            ],
        )
        .await;
    response.assert_status(StatusCode::SEE_OTHER);
    let (link, text) = Mailbox::new().link_to(&app, "body.boom@acme.test").await;
    assert!(link.starts_with("http://acme.localhost/reset/"), "{link}");
    assert!(!text.contains("evil.test"));
}

#[tokio::test]
async fn forgot_password_emails_the_stored_address_and_respects_the_limit() {
    let app = Arc::new(spawn_app().await);
    setup(&app).await;
    let mailbox = Mailbox::new();
    let visitor = Browser::new(&app, "acme.localhost");
    for typed in ["  BODY.BOOM@acme.test ", "nobody@acme.test"] {
        visitor.forgot_password(typed).await.assert_status_is_ok();
    }
    app.process_reset_requests().await;
    let entries = mailbox.deliver(&app).await.list(10).await.unwrap();
    assert_eq!(entries.len(), 1, "only the existing account gets an email");
    assert_eq!(entries[0].to, "body.boom@acme.test");

    for _ in 0..4 {
        visitor.forgot_password("body.boom@acme.test").await;
    }
    app.process_reset_requests().await;
    assert_eq!(
        mailbox.deliver(&app).await.list(10).await.unwrap().len(),
        3,
        "three emails per 15 minutes, the rest accepted but not sent"
    );
}

#[tokio::test]
async fn temporary_password_mode_end_to_end() {
    let app = spawn_app().await;
    let (firm, staff) = setup(&app).await;
    app.change_settings(&firm.tenant, |settings| {
        settings.reset_mode = tenancy::ResetMode::TemporaryPassword;
    })
    .await;
    let mailbox = Mailbox::new();

    staff.press_reset(&firm.contact).await;
    let (link, _) = mailbox.link_to(&app, "body.boom@acme.test").await;

    let browser = Browser::new(&app, "acme.localhost");
    browser.open_link(&link).await;
    let page = browser.text("/reset").await;
    assert!(page.contains("Send me a new password"), "{page}");
    let sent = browser.submit("/reset", "/reset/temporary", &[]).await;
    sent.assert_status_is_ok();
    assert!(body(sent).await.contains("New password sent via mail"));

    let delivered = mailbox.deliver(&app).await;
    let entry = delivered
        .list(10)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.subject == "Your new password")
        .unwrap();
    let text = delivered.read(&entry.id).await.unwrap().unwrap().text;
    let password = text
        .lines()
        .map(str::trim)
        .find(|line| line.len() == 18 && line.chars().all(|c| c.is_ascii_alphanumeric()))
        .expect("the password on a line of its own")
        .to_owned();

    let signed_in = browser
        .sign_in_contact("body.boom@acme.test", &password)
        .await;
    assert_eq!(
        location(&signed_in),
        "/account/password",
        "a temporary password must be changed"
    );
    let old = Browser::new(&app, "acme.localhost")
        .sign_in_contact("body.boom@acme.test", CONTACT_PASSWORD)
        .await;
    assert!(body(old).await.contains("Email or password is incorrect"));

    let again = Browser::new(&app, "acme.localhost");
    again.open_link(&link).await;
    again.page("/reset", StatusCode::GONE).await;
}

#[tokio::test]
async fn an_expired_link_leads_to_a_new_one_that_works() {
    let app = spawn_app().await;
    let (firm, _) = setup(&app).await;
    let mailbox = Mailbox::new();
    let stale = app
        .mint_reset_link(
            &firm.contact,
            chrono::Utc::now() - chrono::Duration::minutes(20),
        )
        .await;

    // Figure 7: the expired link's notice, whose Reset Password button leads to figure 8.
    let browser = Browser::new(&app, "acme.localhost");
    browser.open_minted(&stale).await;
    let notice = browser.text("/reset").await;
    assert!(
        notice.contains("This link has expired") && notice.contains("href=\"/forgot-password\"")
    );
    let sent = browser.forgot_password("body.boom@acme.test").await;
    assert!(body(sent).await.contains("Got it"));

    app.process_reset_requests().await;
    let (link, _) = mailbox.link_to(&app, "body.boom@acme.test").await;
    assert!(!link.contains(&stale.token.expose()));
    browser.open_link(&link).await;
    let done = browser.choose_password(NEW_PASSWORD).await;
    assert_eq!(location(&done), "/login?notice=password-changed");
}

#[tokio::test]
async fn a_reset_emails_delivery_or_failure_enters_the_contacts_audit_trail() {
    let app = spawn_app().await;
    let (firm, staff) = setup(&app).await;
    staff.press_reset(&firm.contact).await;
    Mailbox::new().deliver(&app).await;

    // The next one fails for good: an SMTP port where nobody listens, one attempt.
    staff.press_reset(&firm.contact).await;
    app.delivery_worker(
        notification::Transport::smtp("smtp://127.0.0.1:9?tls=none").unwrap(),
        one_attempt(),
    )
    .deliver_due()
    .await
    .unwrap();

    let contact = tenancy::AccountRef::Contact(firm.contact.id);
    let history = identity::account_history(&app.state.services.db, firm.tenant.id, contact, 50)
        .await
        .unwrap();
    let actions: Vec<&str> = history.iter().map(|event| event.action.as_str()).collect();
    assert_eq!(
        actions
            .iter()
            .filter(|action| **action == "reset-email-sent")
            .count(),
        1,
        "{actions:?}"
    );
    let failed = history
        .iter()
        .find(|event| event.action == "reset-email-failed")
        .expect("the failure is in the trail");
    assert_eq!(failed.actor_kind, "system");
    assert!(
        failed
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("message")
    );
    let page = body(
        staff
            .get(&format!("{}/{}", firm.contacts_page(), firm.contact.id))
            .await,
    )
    .await;
    assert!(page.contains("Reset email sent") && page.contains("Reset email failed"));
}
