//! The processors' queues never wedge: a request that fails is retried, then set aside
//! where operators see it, and the requests behind it, of every firm, go on.

use poem::http::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use serde_json::Value as Json;

use identity::StaffRole;

use crate::fixture::{Mailbox, RETRY, app_with_firm};
use crate::helpers::{Browser, TestApp, body, spawn_app};

const OPERATOR_TOKEN: &str = "test-operator-token-0123456789abcdef";

/// Runs `sql` written with `$1`-style placeholders on either database.
async fn execute(app: &TestApp, sql: &str, values: Vec<Value>) -> u64 {
    let backend = app.state.services.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => (1..=values.len())
            .rev()
            .fold(sql.to_owned(), |sql, n| sql.replace(&format!("${n}"), "?")),
    };
    app.state
        .services
        .db
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap()
        .rows_affected()
}

async fn forgot(app: &TestApp, host: &str, email: &str) {
    Browser::new(app, host)
        .forgot_password(email)
        .await
        .assert_status_is_ok();
}

async fn operator(app: &TestApp, method: &str, path: &str) -> (StatusCode, Json) {
    let request = match method {
        "POST" => app.admin.post(path),
        _ => app.admin.get(path),
    };
    let response = request
        .header("authorization", format!("Bearer {OPERATOR_TOKEN}"))
        .send()
        .await;
    let status = response.0.status();
    let text = body(response).await;
    (status, serde_json::from_str(&text).unwrap_or(Json::Null))
}

async fn metrics(app: &TestApp) -> String {
    body(app.admin.get("/metrics").send().await).await
}

async fn outbox_recipients(app: &TestApp) -> Vec<String> {
    app.queued_emails()
        .await
        .into_iter()
        .map(|message| message.recipient)
        .collect()
}

/// Makes every retry that is waiting due now, instead of waiting for its backoff.
async fn make_retries_due(app: &TestApp) {
    execute(
        app,
        "UPDATE reset_requests SET next_attempt_at = $1 WHERE next_attempt_at IS NOT NULL",
        vec![(chrono::Utc::now() - chrono::Duration::seconds(1)).into()],
    )
    .await;
}

#[tokio::test]
async fn one_firms_broken_request_holds_up_nobody_and_waits_for_an_operator() {
    let app = spawn_app().await;
    let acme = app.firm("acme").await.tenant;
    app.firm("globex").await;
    forgot(&app, "acme.localhost", "body.boom@acme.test").await;
    forgot(&app, "globex.localhost", "body.boom@globex.test").await;
    // ACME's stored settings become unreadable: every request of ACME now fails.
    let settings: String = app
        .state
        .services
        .db
        .query_one_raw(Statement::from_sql_and_values(
            app.state.services.db.get_database_backend(),
            match app.state.services.db.get_database_backend() {
                DbBackend::Postgres => "SELECT settings FROM tenants WHERE id = $1",
                _ => "SELECT settings FROM tenants WHERE id = ?",
            },
            [acme.id.as_uuid().into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "settings")
        .unwrap();
    execute(
        &app,
        "UPDATE tenants SET settings = $1 WHERE id = $2",
        vec!["{not json".into(), acme.id.as_uuid().into()],
    )
    .await;

    app.process_reset_requests().await;
    assert_eq!(
        outbox_recipients(&app).await,
        ["body.boom@globex.test"],
        "Globex's request went through"
    );
    // ACME's is retried after a backoff, then set aside after the last attempt.
    for _ in 1..RETRY.max_attempts {
        make_retries_due(&app).await;
        app.process_reset_requests().await;
    }
    let (status, listed) = operator(&app, "GET", "/api/v1/requests").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let requests = listed["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{listed}");
    let set_aside = &requests[0];
    assert_eq!(set_aside["queue"], "reset_requests");
    assert_eq!(set_aside["firm"], "acme");
    assert_eq!(set_aside["email_domain"], "acme.test");
    assert_eq!(set_aside["attempts"], 5);
    assert!(
        !set_aside["last_error"].as_str().unwrap().is_empty(),
        "{set_aside}"
    );
    assert!(
        !listed.to_string().contains("body.boom@acme.test"),
        "operators see the domain only"
    );
    let scraped = metrics(&app).await;
    assert!(
        scraped.contains("latchkey_queue_failed{queue=\"reset_requests\"} 1"),
        "{scraped}"
    );
    assert!(scraped.contains("latchkey_queue_pending{queue=\"reset_requests\"} 0"));

    // Once the firm is mended, the operator puts the request back and it goes out.
    execute(
        &app,
        "UPDATE tenants SET settings = $1 WHERE id = $2",
        vec![settings.into(), acme.id.as_uuid().into()],
    )
    .await;
    let id = set_aside["id"].as_str().unwrap();
    let (status, requeued) = operator(&app, "POST", &format!("/api/v1/requests/{id}/retry")).await;
    assert_eq!(status, StatusCode::OK, "{requeued}");
    assert_eq!(requeued["queue"], "reset_requests");
    let (status, again) = operator(&app, "POST", &format!("/api/v1/requests/{id}/retry")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{again}");
    app.process_reset_requests().await;
    let mut recipients = outbox_recipients(&app).await;
    recipients.sort();
    assert_eq!(recipients, ["body.boom@acme.test", "body.boom@globex.test"]);
}

/// `.a@example.com` passed the old parser but not lettre. An account stored with it
/// before the fix can neither wedge the queue nor fail with a 500.
#[tokio::test]
async fn an_unsendable_address_stored_before_the_fix_wedges_nothing() {
    let (app, acme) = app_with_firm("acme").await;
    let legacy = &acme.contact;
    app.firm("globex").await;
    execute(
        &app,
        "UPDATE contacts SET email = $1 WHERE id = $2",
        vec![".a@example.com".into(), legacy.id.as_uuid().into()],
    )
    .await;
    // A request for it queued before the fix, and one of another firm after it.
    execute(
        &app,
        "INSERT INTO reset_requests (id, tenant_id, email, client_address, requested_at, attempts) \
         VALUES ($1, $2, $3, NULL, $4, 0)",
        vec![
            uuid::Uuid::now_v7().into(),
            acme.tenant.id.as_uuid().into(),
            ".a@example.com".into(),
            (chrono::Utc::now() - chrono::Duration::minutes(1)).into(),
        ],
    )
    .await;
    forgot(&app, "globex.localhost", "body.boom@globex.test").await;
    app.process_reset_requests().await;
    assert_eq!(outbox_recipients(&app).await, ["body.boom@globex.test"]);
    assert!(
        reset_token::pending_reset_requests(&app.state.services.db, chrono::Utc::now(), 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing is left waiting"
    );
    // The form refuses the address at entry.
    let typed = Browser::new(&app, "acme.localhost")
        .forgot_password(".a@example.com")
        .await;
    typed.assert_status(StatusCode::UNPROCESSABLE_ENTITY);

    // Staff pressing Reset Password are told what to fix, not shown a 500.
    let staff = app.signed_in_staff(&acme, StaffRole::Admin).await;
    let pressed = staff.press_reset(legacy).await;
    pressed.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(pressed).await.contains("cannot receive email"));
}

#[tokio::test]
async fn the_firms_staff_are_told_of_an_access_request_by_the_processor() {
    let (app, acme) = app_with_firm("acme").await;
    let admin = app.add_staff(&acme, StaffRole::Admin).await;
    Browser::new(&app, "acme.localhost")
        .request_access([
            "Dana Doe",
            "dana@client.test",
            "Doe Ltd",
            "Please let me in.",
        ])
        .await
        .assert_status_is_ok();
    // The page only recorded the request.
    assert!(outbox_recipients(&app).await.is_empty());
    let scraped = metrics(&app).await;
    assert!(
        scraped.contains("latchkey_queue_pending{queue=\"access_requests\"} 1"),
        "{scraped}"
    );
    assert_eq!(app.process_access_notices().await, 1);
    let mailbox = Mailbox::new();
    let mailbox = mailbox.deliver(&app).await;
    let delivered = mailbox.list(10).await.unwrap();
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0].to.contains(&admin));
    let message = mailbox.read(&delivered[0].id).await.unwrap().unwrap();
    assert!(message.text.contains("Dana Doe"), "{}", message.text);
    // Told once: a second pass finds nothing to do.
    assert_eq!(app.process_access_notices().await, 0);
}
