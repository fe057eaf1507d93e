//! Host -> firm routing on the public listener.

use poem::http::{HeaderValue, StatusCode};
use tenancy::TenantStatus;

use crate::helpers::{assert_contains, body, spawn_app};

#[tokio::test]
async fn a_known_firm_is_served_with_its_name() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    for host in [
        "acme.localhost",
        "acme.localhost:8080",
        "ACME.LOCALHOST.",
        "Acme.Localhost.:8080",
    ] {
        let response = app.get(host, "/login").await;
        response.assert_status_is_ok();
        assert_contains(response, "ACME Corporation").await;
    }
}

#[tokio::test]
async fn an_unknown_firm_is_a_404_page() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    let response = app.get("nope.localhost:8080", "/").await;
    response.assert_status(StatusCode::NOT_FOUND);
    let body = body(response).await;
    assert!(body.contains("No firm at this address"), "{body}");
    assert!(!body.contains("ACME Corporation"), "never a default firm");
}

#[tokio::test]
async fn another_domain_is_a_404() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    for host in [
        "evil.test",
        "acme.localhost.evil.test",
        "acme.evil.test",
        "a.acme.localhost",
        "www.localhost",
    ] {
        app.get(host, "/")
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_suspended_firm_is_a_403_page_with_its_name() {
    let app = spawn_app().await;
    let firm = app.create_firm("acme", "ACME Corporation").await;
    app.get("acme.localhost", "/login")
        .await
        .assert_status_is_ok();
    tenancy::set_tenant_status(
        &app.state.services.db,
        &firm.slug,
        TenantStatus::Suspended,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    app.state.services.resolver.invalidate_tenant(firm.id);
    let response = app.get("acme.localhost", "/").await;
    response.assert_status(StatusCode::FORBIDDEN);
    let body = body(response).await;
    assert!(body.contains("This portal is suspended"), "{body}");
    assert!(body.contains("ACME Corporation"), "{body}");
}

#[tokio::test]
async fn the_platform_host_shows_the_landing_page() {
    let app = spawn_app().await;
    for host in ["localhost", "localhost:8080", "LOCALHOST."] {
        let response = app.get(host, "/").await;
        response.assert_status_is_ok();
        assert_contains(response, "Secure client portals").await;
    }
}

#[tokio::test]
async fn hostile_hosts_are_bad_requests() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    let long_label = format!("{}.localhost", "a".repeat(300));
    for host in [
        "acme.localhost:8080:90",
        "acme.localhost@evil.test",
        "[::1]:8080",
        "",
        long_label.as_str(),
        "acme.localhost:99999",
        "acme..localhost",
    ] {
        app.get(host, "/")
            .await
            .assert_status(StatusCode::BAD_REQUEST);
    }
    let non_ascii = HeaderValue::from_bytes("acmé.localhost".as_bytes()).unwrap();
    app.public
        .get("/")
        .header("host", non_ascii)
        .send()
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn two_host_headers_are_a_bad_request() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    app.public
        .get("/")
        .header("host", "acme.localhost")
        .header("host", "evil.localhost")
        .send()
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_missing_host_is_a_bad_request() {
    let app = spawn_app().await;
    app.public
        .get("/")
        .send()
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn forwarded_host_headers_are_never_believed() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    let response = app
        .public
        .get("/")
        .header("host", "nope.localhost")
        .header("x-forwarded-host", "acme.localhost")
        .header("forwarded", "host=acme.localhost")
        .send()
        .await;
    response.assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_verified_custom_domain_serves_its_firm() {
    let app = spawn_app().await;
    let firm = app.create_firm("acme", "ACME Corporation").await;
    let domain = tenancy::HostName::parse("portal.acme-tax.test").unwrap();
    let base = app.state.settings.server.base_domain.clone();
    tenancy::add_tenant_domain(
        &app.state.services.db,
        firm.id,
        domain.clone(),
        &base,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    app.get("portal.acme-tax.test", "/")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    tenancy::mark_tenant_domain_verified(
        &app.state.services.db,
        firm.id,
        &domain,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    app.state.services.resolver.invalidate_tenant(firm.id);
    let response = app.get("portal.acme-tax.test", "/login").await;
    response.assert_status_is_ok();
    assert_contains(response, "ACME Corporation").await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    for (host, status) in [
        ("acme.localhost", 200),
        ("nope.localhost", 404),
        ("a@b", 400),
        ("localhost", 200),
    ] {
        let response = app.get(host, "/static/latchkey.css").await;
        response.assert_status(StatusCode::from_u16(status).unwrap());
        let headers = response.0.headers();
        let csp = headers
            .get("content-security-policy")
            .expect("a CSP")
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
        assert!(headers.contains_key("referrer-policy"));
        assert!(headers.contains_key("x-request-id"));
        assert!(
            !headers.contains_key("strict-transport-security"),
            "no HSTS over http"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_page() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    let response = app
        .public
        .post("/login")
        .header("host", "acme.localhost")
        .body(vec![b'x'; 4096])
        .send()
        .await;
    response.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    assert_contains(response, "Request too large").await;
}

#[tokio::test]
async fn unknown_pages_of_a_firm_are_404_pages_in_its_branding() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    let response = app.get("acme.localhost", "/no/such/page").await;
    response.assert_status(StatusCode::NOT_FOUND);
    let body = body(response).await;
    assert!(body.contains("Page not found"), "{body}");
    assert!(body.contains("ACME Corporation"), "{body}");
}

#[tokio::test]
async fn the_stylesheets_are_served() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    let response = app.get("acme.localhost", "/static/latchkey.css").await;
    response.assert_status_is_ok();
    response.assert_content_type("text/css; charset=utf-8");
    app.get("acme.localhost", "/branding.css")
        .await
        .assert_status_is_ok();
}

#[tokio::test]
async fn the_development_mailbox_does_not_exist_outside_development() {
    let app = spawn_app().await;
    app.get("localhost", "/_dev/mailbox")
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_bench_ceiling_answers_only_when_configured() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    app.get("acme.localhost", "/_bench/ceiling")
        .await
        .assert_status(StatusCode::NOT_FOUND);

    let bench = crate::helpers::spawn_app_with(&[("LATCHKEY__BENCH__CEILING_ROUTE", "true")]).await;
    bench.create_firm("acme", "ACME Corporation").await;
    // Answered before any middleware: whatever the host, nothing else runs.
    for host in ["acme.localhost", "nobody.localhost"] {
        let response = bench.get(host, "/_bench/ceiling").await;
        response.assert_status_is_ok();
        assert!(!response.0.headers().contains_key("x-request-id"));
    }
    bench
        .get("acme.localhost", "/login")
        .await
        .assert_status_is_ok();
}
