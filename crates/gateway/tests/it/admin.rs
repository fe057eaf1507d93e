//! The admin listener: health, readiness, metrics.

use poem::http::StatusCode;

use crate::fixture::app_with_acme;
use crate::helpers::{body, spawn_app};

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.admin_get("/healthz").await;
    response.assert_status_is_ok();
    assert_eq!(body(response).await, "ok\n");
}

#[tokio::test]
async fn readyz_follows_the_database() {
    let app = spawn_app().await;
    app.admin_get("/readyz").await.assert_status_is_ok();
    app.state.services.db.clone().close().await.unwrap();
    app.admin_get("/readyz")
        .await
        .assert_status(StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let (app, _) = app_with_acme().await;
    app.page("acme.localhost", "/login", StatusCode::OK).await;
    app.page("nope.localhost", "/", StatusCode::NOT_FOUND).await;
    let response = app.admin_get("/metrics").await;
    response.assert_status_is_ok();
    let text = body(response).await;
    assert!(
        text.contains(
            r#"latchkey_http_requests_total{method="GET",route="/login",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"latchkey_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("latchkey_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

/// What the dashboard and the alert rules read besides requests: the outbox's age and
/// the hashing pool, present from the first scrape; email counters at zero.
#[tokio::test]
async fn metrics_show_the_outbox_age_and_the_hashing_pool() {
    let app = spawn_app().await;
    let response = app.admin_get("/metrics").await;
    response.assert_status_is_ok();
    let text = body(response).await;
    for series in [
        r#"latchkey_queue_oldest_age_seconds{queue="outbox"} 0"#,
        "latchkey_password_hashing_waiting 0",
        "latchkey_password_hashing_busy 0",
        r#"latchkey_email_dead_total{kind="password_reset"} 0"#,
    ] {
        assert!(text.contains(series), "no `{series}` in:\n{text}");
    }
    let threads = text
        .lines()
        .find_map(|line| line.strip_prefix("latchkey_password_hashing_threads "))
        .and_then(|value| value.parse::<u64>().ok());
    assert!(threads.is_some_and(|threads| threads >= 1), "{text}");

    // An email written ten minutes ago and still waiting: the outbox is that old.
    let email = notification::Email::from(notification::FindYourFirm {
        firms: vec![notification::FirmLink {
            name: "ACME Corporation".into(),
            url: "http://acme.localhost/login".into(),
        }],
    });
    let rendered = notification::Renderer::new()
        .render_platform(&email, "Latchkey", None)
        .unwrap();
    let written = chrono::Utc::now() - chrono::TimeDelta::minutes(10);
    notification::enqueue_platform(app.db(), "ann@client.test", &rendered, written)
        .await
        .unwrap();
    let text = body(app.admin_get("/metrics").await).await;
    let age = text
        .lines()
        .find_map(|line| line.strip_prefix(r#"latchkey_queue_oldest_age_seconds{queue="outbox"} "#))
        .and_then(|value| value.parse::<i64>().ok())
        .unwrap_or_else(|| panic!("no outbox age in:\n{text}"));
    assert!((600..700).contains(&age), "{age}");
}

#[tokio::test]
async fn the_admin_listener_serves_no_firm_pages() {
    let (app, _) = app_with_acme().await;
    app.admin
        .get("/")
        .header("host", "acme.localhost")
        .send()
        .await
        .assert_status(StatusCode::NOT_FOUND);
}
