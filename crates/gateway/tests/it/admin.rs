//! The admin listener: health, readiness, metrics.

use poem::http::StatusCode;

use crate::helpers::{body, spawn_app};

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.admin.get("/healthz").send().await;
    response.assert_status_is_ok();
    assert_eq!(body(response).await, "ok\n");
}

#[tokio::test]
async fn readyz_follows_the_database() {
    let app = spawn_app().await;
    app.admin.get("/readyz").send().await.assert_status_is_ok();
    app.state.db.clone().close().await.unwrap();
    app.admin
        .get("/readyz")
        .send()
        .await
        .assert_status(StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    app.get("acme.localhost", "/login")
        .await
        .assert_status_is_ok();
    app.get("nope.localhost", "/")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let response = app.admin.get("/metrics").send().await;
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

#[tokio::test]
async fn the_admin_listener_serves_no_firm_pages() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    app.admin
        .get("/")
        .header("host", "acme.localhost")
        .send()
        .await
        .assert_status(StatusCode::NOT_FOUND);
}
