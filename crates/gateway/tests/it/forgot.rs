//! "Forgot your password?": one answer for every address.

use std::time::{Duration, Instant};

use poem::http::StatusCode;
use reset_token::pending_reset_requests;

use crate::helpers::{Browser, TestApp, body, spawn_app};

async fn setup() -> TestApp {
    let app = spawn_app().await;
    app.firm_named("acme", "ACME Corporation").await;
    app
}

/// The "Forgot your password?" requests waiting for the processor.
async fn queued(app: &TestApp) -> Vec<reset_token::ResetRequest> {
    pending_reset_requests(app.db(), chrono::Utc::now(), 10)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_form_follows_figure_eight_and_the_answer_figure_nine() {
    let app = setup().await;
    let browser = Browser::new(&app, "acme.localhost");
    let page = browser.text("/forgot-password").await;
    assert!(page.contains("Send Password Reset") && page.contains("name=\"email\""));
    let sent = browser.forgot_password("body.boom@acme.test").await;
    sent.assert_status_is_ok();
    let html = body(sent).await;
    assert!(
        html.contains("Success") && html.contains("Got it") && html.contains("href=\"/login\""),
        "{html}"
    );
    let queued = queued(&app).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].email, "body.boom@acme.test");
}

#[tokio::test]
async fn known_and_unknown_addresses_get_identical_answers() {
    let app = setup().await;
    let browser = Browser::new(&app, "acme.localhost");
    let token = browser.csrf_token("/forgot-password").await;
    let post = |email: &'static str| {
        let token = token.clone();
        let browser = &browser;
        async move {
            let started = Instant::now();
            let response = browser
                .post(
                    "/forgot-password",
                    &[("email", email), ("csrf_token", &token)],
                )
                .await;
            let elapsed = started.elapsed();
            let status = response.0.status();
            (status, body(response).await, elapsed)
        }
    };
    let (known_status, known_body, _) = post("body.boom@acme.test").await;
    let (unknown_status, unknown_body, _) = post("nobody@acme.test").await;
    assert_eq!(known_status, StatusCode::OK);
    assert_eq!(known_status, unknown_status);
    assert_eq!(known_body, unknown_body, "byte-identical pages");

    // Each known request is followed at once by an unknown one, so whatever else the
    // machine is doing falls on both kinds alike; the medians of many pairs shed the
    // odd request that a busy machine stalls.
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..200 {
        known.push(post("body.boom@acme.test").await.2);
        unknown.push(post("nobody@acme.test").await.2);
    }
    let median = |mut times: Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (known, unknown) = (median(known), median(unknown));
    // What would tell the addresses apart is work done for one kind only: a password
    // hash, an email sent while the visitor waits, extra queries. Each costs a
    // multiple of the whole request, so it would push the ratio far past 2, while
    // load shared by both kinds leaves it near 1 on any machine.
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    assert!(
        (0.5..=2.0).contains(&ratio),
        "medians {known:?} and {unknown:?}: ratio {ratio:.2}"
    );
}

#[tokio::test]
async fn a_field_sent_twice_or_as_an_array_is_refused() {
    let app = setup().await;
    let browser = Browser::new(&app, "acme.localhost");
    let token = browser.csrf_token("/forgot-password").await;
    for field in ["email", "email[]"] {
        let fields = [
            (field, "body.boom@acme.test"),
            (field, "attacker@evil.test"),
            ("csrf_token", token.as_str()),
        ];
        let answer = browser.post("/forgot-password", &fields).await;
        assert_eq!(answer.0.status(), StatusCode::BAD_REQUEST, "{field} twice");
    }
    assert!(queued(&app).await.is_empty(), "nothing queued");
}

#[tokio::test]
async fn a_malformed_address_is_a_validation_error() {
    let app = setup().await;
    let browser = Browser::new(&app, "acme.localhost");
    let response = browser.forgot_password("not an address").await;
    response.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(response).await.contains("Enter an email address"));
    let response = browser
        .post("/forgot-password", &[("email", "body.boom@acme.test")])
        .await;
    response.assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_answer_states_the_firms_own_link_lifetime() {
    let app = setup().await;
    let firm = app.stored_firm("acme").await;
    app.change_settings(&firm, |settings| settings.reset_link_minutes = Some(42))
        .await;
    let browser = Browser::new(&app, "acme.localhost");
    let sent = browser.forgot_password("body.boom@acme.test").await;
    sent.assert_status_is_ok();
    let html = body(sent).await;
    assert!(html.contains("expires in 42 minutes"), "{html}");
}
