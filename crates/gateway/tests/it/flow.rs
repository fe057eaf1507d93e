//! The whole staff flow over HTTP: Reset Password → the email → the link → a new
//! password → sign-in; and "Forgot your password?" through the worker.

use std::sync::Arc;

use poem::http::StatusCode;

use crate::helpers::{Browser, TestApp, body, deliver, link_in_newest_email, location, spawn_app};

const OLD_PASSWORD: &str = "contact battery staple";
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn setup(app: &TestApp) -> (tenancy::Tenant, identity::Client, identity::Contact) {
    let firm = app.create_firm("acme", "ACME Corporation").await;
    app.create_staff(
        &firm,
        "admin@acme.test",
        "staff correct horse",
        identity::StaffRole::Staff,
    )
    .await;
    let client = app.create_client(&firm, "John A. Teague").await;
    let contact = app
        .create_contact(
            &firm,
            &client,
            "Body Boom",
            "body.boom@acme.test",
            OLD_PASSWORD,
        )
        .await;
    (firm, client, contact)
}

#[tokio::test]
async fn staff_reset_email_link_new_password_sign_in() {
    let app = spawn_app().await;
    let (_, client, contact) = setup(&app).await;
    let folder = tempfile::tempdir().unwrap();

    let staff = Browser::new(&app, "acme.localhost");
    staff
        .sign_in_staff("admin@acme.test", "staff correct horse")
        .await;
    let contacts_page = format!("/staff/clients/{}/contacts", client.id);
    let reset = format!("{contacts_page}/{}/reset-password", contact.id);
    let pressed = staff.submit(&contacts_page, &reset, &[]).await;
    pressed.assert_status(StatusCode::SEE_OTHER);
    let notice = body(staff.get(&location(&pressed)).await).await;
    assert!(
        notice.contains("A Password Reset email is on its way to Body Boom"),
        "{notice}"
    );
    assert!(
        notice.contains("queued"),
        "the row shows the email's delivery state"
    );

    let mailbox = deliver(&app, folder.path()).await;
    let (link, text) = link_in_newest_email(&mailbox, "body.boom@acme.test").await;
    assert!(
        text.contains("Password Reset") && text.contains("15 minutes"),
        "{text}"
    );
    assert!(link.starts_with("http://acme.localhost/reset/"), "{link}");
    assert!(
        body(staff.get(&contacts_page).await)
            .await
            .contains(">sent<")
    );

    let contact_browser = Browser::new(&app, "acme.localhost");
    let path = link.trim_start_matches("http://acme.localhost");
    contact_browser
        .get(path)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let done = contact_browser
        .submit(
            "/reset",
            "/reset",
            &[
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&done), "/login?notice=password-changed");

    let old = contact_browser
        .submit(
            "/login",
            "/login",
            &[("email", "body.boom@acme.test"), ("password", OLD_PASSWORD)],
        )
        .await;
    assert!(body(old).await.contains("Email or password is incorrect"));
    let new = contact_browser
        .submit(
            "/login",
            "/login",
            &[("email", "body.boom@acme.test"), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(location(&new), "/");

    let mailbox = deliver(&app, folder.path()).await;
    let subjects: Vec<String> = mailbox
        .list(10)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.subject)
        .collect();
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
    let (_, client, contact) = setup(&app).await;
    let staff = Browser::new(&app, "acme.localhost");
    staff
        .sign_in_staff("admin@acme.test", "staff correct horse")
        .await;
    let contacts_page = format!("/staff/clients/{}/contacts", client.id);
    let token = staff.csrf_token(&contacts_page).await;
    let response = app
        .public
        .post(format!("{contacts_page}/{}/reset-password", contact.id))
        .header("host", "acme.localhost")
        .header(
            "cookie",
            format!(
                "latchkey_staff={}; latchkey_csrf={}",
                staff.cookie("latchkey_staff").unwrap(),
                staff.cookie("latchkey_csrf").unwrap()
            ),
        )
        .header("x-requested-with", "fetch")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await;
    response.assert_status_is_ok();
    assert_eq!(body(response).await, r#"{"status":"queued"}"#);
}

/// With the staff session over (expired, signed out elsewhere), the button's request
/// must not come back as the sign-in page's 200, which the script took for "Success".
#[tokio::test]
async fn an_ended_session_tells_the_button_401_and_sends_nothing() {
    let app = spawn_app().await;
    let (_, client, contact) = setup(&app).await;
    let staff = Browser::new(&app, "acme.localhost");
    staff
        .sign_in_staff("admin@acme.test", "staff correct horse")
        .await;
    let contacts_page = format!("/staff/clients/{}/contacts", client.id);
    let token = staff.csrf_token(&contacts_page).await;
    let post = |cookie: String| {
        app.public
            .post(format!("{contacts_page}/{}/reset-password", contact.id))
            .header("host", "acme.localhost")
            .header("cookie", cookie)
            .header("x-requested-with", "fetch")
            .form(&[("csrf_token", token.as_str())])
            .send()
    };
    let csrf_only = format!("latchkey_csrf={}", staff.cookie("latchkey_csrf").unwrap());
    let ended = post(csrf_only.clone()).await;
    ended.assert_status(StatusCode::UNAUTHORIZED);
    ended.assert_content_type("application/json; charset=utf-8");
    assert_eq!(
        body(ended).await,
        r#"{"sign_in":"/staff/login","status":"sign_in_required"}"#
    );
    let forged = post(format!("{csrf_only}; latchkey_staff=forged-session")).await;
    forged.assert_status(StatusCode::UNAUTHORIZED);
    let queued = notification::list_messages(
        &app.state.services.db,
        notification::MessageFilter::all(),
        10,
    )
    .await
    .unwrap();
    assert!(queued.is_empty(), "nothing was sent: {queued:?}");
}

#[tokio::test]
async fn poisoned_host_headers_never_reach_the_link() {
    let app = spawn_app().await;
    let (_, client, contact) = setup(&app).await;
    let folder = tempfile::tempdir().unwrap();
    let staff = Browser::new(&app, "ACME.localhost:8080");
    staff
        .sign_in_staff("admin@acme.test", "staff correct horse")
        .await;
    let contacts_page = format!("/staff/clients/{}/contacts", client.id);
    let token = staff.csrf_token(&contacts_page).await;
    let response = app
        .public
        .post(format!("{contacts_page}/{}/reset-password", contact.id))
        .header("host", "ACME.localhost:8080")
        .header("x-forwarded-host", "evil.test")
        .header("forwarded", "host=evil.test;proto=https")
        .header("x-forwarded-proto", "https")
        .header(
            "cookie",
            format!(
                "latchkey_staff={}; latchkey_csrf={}",
                staff.cookie("latchkey_staff").unwrap(),
                staff.cookie("latchkey_csrf").unwrap()
            ),
        )
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await;
    response.assert_status(StatusCode::SEE_OTHER);
    let mailbox = deliver(&app, folder.path()).await;
    let (link, text) = link_in_newest_email(&mailbox, "body.boom@acme.test").await;
    assert!(link.starts_with("http://acme.localhost/reset/"), "{link}");
    assert!(!text.contains("evil.test"));
}

#[tokio::test]
async fn forgot_password_emails_the_stored_address_and_respects_the_limit() {
    let app = Arc::new(spawn_app().await);
    setup(&app).await;
    let folder = tempfile::tempdir().unwrap();
    let visitor = Browser::new(&app, "acme.localhost");
    for typed in ["  BODY.BOOM@acme.test ", "nobody@acme.test"] {
        visitor
            .submit("/forgot-password", "/forgot-password", &[("email", typed)])
            .await
            .assert_status_is_ok();
    }
    service::processors::process_reset_requests(&app.state.services)
        .await
        .unwrap();
    let mailbox = deliver(&app, folder.path()).await;
    let entries = mailbox.list(10).await.unwrap();
    assert_eq!(entries.len(), 1, "only the existing account gets an email");
    assert_eq!(entries[0].to, "body.boom@acme.test");

    for _ in 0..4 {
        visitor
            .submit(
                "/forgot-password",
                "/forgot-password",
                &[("email", "body.boom@acme.test")],
            )
            .await;
    }
    service::processors::process_reset_requests(&app.state.services)
        .await
        .unwrap();
    let mailbox = deliver(&app, folder.path()).await;
    assert_eq!(
        mailbox.list(10).await.unwrap().len(),
        3,
        "three emails per 15 minutes, the rest accepted but not sent"
    );
}

#[tokio::test]
async fn temporary_password_mode_end_to_end() {
    let app = spawn_app().await;
    let (firm, client, contact) = setup(&app).await;
    let mut settings = firm.settings.clone();
    settings.reset_mode = tenancy::ResetMode::TemporaryPassword;
    tenancy::update_tenant_settings(
        &app.state.services.db,
        firm.id,
        &settings,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    app.state.services.resolver.invalidate_tenant(firm.id);
    let folder = tempfile::tempdir().unwrap();

    let staff = Browser::new(&app, "acme.localhost");
    staff
        .sign_in_staff("admin@acme.test", "staff correct horse")
        .await;
    let contacts_page = format!("/staff/clients/{}/contacts", client.id);
    staff
        .submit(
            &contacts_page,
            &format!("{contacts_page}/{}/reset-password", contact.id),
            &[],
        )
        .await;
    let mailbox = deliver(&app, folder.path()).await;
    let (link, _) = link_in_newest_email(&mailbox, "body.boom@acme.test").await;

    let browser = Browser::new(&app, "acme.localhost");
    browser
        .get(link.trim_start_matches("http://acme.localhost"))
        .await;
    let page = body(browser.get("/reset").await).await;
    assert!(page.contains("Send me a new password"), "{page}");
    let sent = browser.submit("/reset", "/reset/temporary", &[]).await;
    sent.assert_status_is_ok();
    assert!(body(sent).await.contains("New password sent via mail"));

    let mailbox = deliver(&app, folder.path()).await;
    let entry = mailbox
        .list(10)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.subject == "Your new password")
        .unwrap();
    let text = mailbox.read(&entry.id).await.unwrap().unwrap().text;
    let password = text
        .lines()
        .map(str::trim)
        .find(|line| line.len() == 18 && line.chars().all(|c| c.is_ascii_alphanumeric()))
        .expect("the password on a line of its own")
        .to_owned();

    let signed_in = browser
        .submit(
            "/login",
            "/login",
            &[("email", "body.boom@acme.test"), ("password", &password)],
        )
        .await;
    assert_eq!(
        location(&signed_in),
        "/account/password",
        "a temporary password must be changed"
    );
    let old = Browser::new(&app, "acme.localhost")
        .submit(
            "/login",
            "/login",
            &[("email", "body.boom@acme.test"), ("password", OLD_PASSWORD)],
        )
        .await;
    assert!(body(old).await.contains("Email or password is incorrect"));

    let again = Browser::new(&app, "acme.localhost");
    again
        .get(link.trim_start_matches("http://acme.localhost"))
        .await;
    again.get("/reset").await.assert_status(StatusCode::GONE);
}

#[tokio::test]
async fn an_expired_link_leads_to_a_new_one_that_works() {
    let app = spawn_app().await;
    let (firm, _, contact) = setup(&app).await;
    let folder = tempfile::tempdir().unwrap();
    let stale = reset_token::mint_token(
        &app.state.services.db,
        &app.state.services.token_keys,
        firm.id,
        reset_token::TokenPurpose::Reset,
        "contact",
        contact.id,
        chrono::Duration::minutes(15),
        chrono::Utc::now() - chrono::Duration::minutes(20),
    )
    .await
    .unwrap();

    // Figure 7: the expired link's notice, whose Reset Password button leads to figure 8.
    let browser = Browser::new(&app, "acme.localhost");
    browser
        .get(&format!("/reset/{}", stale.token.expose()))
        .await;
    let notice = body(browser.get("/reset").await).await;
    assert!(
        notice.contains("This link has expired") && notice.contains("href=\"/forgot-password\"")
    );
    let sent = browser
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "body.boom@acme.test")],
        )
        .await;
    assert!(body(sent).await.contains("Got it"));

    service::processors::process_reset_requests(&app.state.services)
        .await
        .unwrap();
    let mailbox = deliver(&app, folder.path()).await;
    let (link, _) = link_in_newest_email(&mailbox, "body.boom@acme.test").await;
    assert!(!link.contains(&stale.token.expose()));
    browser
        .get(link.trim_start_matches("http://acme.localhost"))
        .await;
    let done = browser
        .submit(
            "/reset",
            "/reset",
            &[
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&done), "/login?notice=password-changed");
}

#[tokio::test]
async fn a_reset_emails_delivery_or_failure_enters_the_contacts_audit_trail() {
    let app = spawn_app().await;
    let (firm, client, contact) = setup(&app).await;
    let staff = Browser::new(&app, "acme.localhost");
    staff
        .sign_in_staff("admin@acme.test", "staff correct horse")
        .await;
    let contacts = format!("/staff/clients/{}/contacts", client.id);
    let reset = format!(
        "/staff/clients/{}/contacts/{}/reset-password",
        client.id, contact.id
    );
    staff.submit(&contacts, &reset, &[]).await;
    let folder = tempfile::tempdir().unwrap();
    deliver(&app, folder.path()).await;

    // The next one fails for good: an SMTP port where nobody listens, one attempt.
    staff.submit(&contacts, &reset, &[]).await;
    let mut settings =
        notification::DeliverySettings::new("Latchkey <no-reply@latchkey.test>").unwrap();
    settings.max_attempts = 1;
    notification::DeliveryWorker::new(
        app.state.services.db.clone(),
        notification::Transport::smtp("smtp://127.0.0.1:9?tls=none").unwrap(),
        settings,
        app.state.services.waker.clone(),
    )
    .with_observer(Arc::new(service::emails::AuditTrailObserver))
    .deliver_due()
    .await
    .unwrap();

    let history = identity::account_history(&app.state.services.db, firm.id, contact.id, 50)
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
            .get(&format!(
                "/staff/clients/{}/contacts/{}",
                client.id, contact.id
            ))
            .await,
    )
    .await;
    assert!(page.contains("Reset email sent") && page.contains("Reset email failed"));
}
