//! Host -> firm routing on the public listener.

use poem::http::{HeaderValue, StatusCode};

use crate::fixture::app_with_acme;
use crate::helpers::{TestApp, assert_contains, spawn_app};

/// Asserts that `(host, path)` is a 404 page saying `notice`, in ACME's name or in none.
async fn assert_404_page(app: &TestApp, (host, path): (&str, &str), notice: &str, acme: bool) {
    let body = app.page(host, path, StatusCode::NOT_FOUND).await;
    assert!(body.contains(notice), "{host}{path}: {body}");
    let named = body.contains("ACME Corporation");
    assert_eq!(named, acme, "{host}{path}: ACME's name shown: {body}");
}

#[tokio::test]
async fn a_known_firm_is_served_with_its_name() {
    let (app, _) = app_with_acme().await;
    // Any case, with or without the root's dot, with or without a port.
    for name in ["acme.localhost", "ACME.LOCALHOST.", "Acme.Localhost."] {
        for host in [name.to_owned(), format!("{name}:8080")] {
            let page = app.page(&host, "/login", StatusCode::OK).await;
            assert!(page.contains("ACME Corporation"), "{host}: {page}");
        }
    }
}

#[tokio::test]
async fn an_unknown_firm_is_a_404_page() {
    let (app, _) = app_with_acme().await;
    // Never a default firm.
    let notice = "No firm at this address";
    assert_404_page(&app, ("nope.localhost:8080", "/"), notice, false).await;
}

#[tokio::test]
async fn another_domain_is_a_404() {
    let (app, _) = app_with_acme().await;
    for host in [
        "evil.test",
        "acme.localhost.evil.test",
        "acme.evil.test",
        "a.acme.localhost",
        "www.localhost",
    ] {
        app.page(host, "/", StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn a_suspended_firm_is_a_403_page_with_its_name() {
    let (app, firm) = app_with_acme().await;
    app.page("acme.localhost", "/login", StatusCode::OK).await;
    app.suspend(&firm).await;
    let body = app.page("acme.localhost", "/", StatusCode::FORBIDDEN).await;
    assert!(body.contains("This portal is suspended"), "{body}");
    assert!(body.contains("ACME Corporation"), "{body}");
}

#[tokio::test]
async fn the_platform_host_shows_the_landing_page() {
    let app = spawn_app().await;
    for host in ["localhost", "localhost:8080", "LOCALHOST."] {
        let page = app.page(host, "/", StatusCode::OK).await;
        assert!(page.contains("Secure client portals"), "{host}: {page}");
    }
}

#[tokio::test]
async fn hostile_hosts_are_bad_requests() {
    let (app, _) = app_with_acme().await;
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
        app.page(host, "/", StatusCode::BAD_REQUEST).await;
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
    let (app, _) = app_with_acme().await;
    let hosts = [("host", "acme.localhost"), ("host", "evil.localhost")];
    app.get_with("/", &hosts)
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_missing_host_is_a_bad_request() {
    let app = spawn_app().await;
    app.get_with("/", &[])
        .await
        .assert_status(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn forwarded_host_headers_are_never_believed() {
    let (app, _) = app_with_acme().await;
    let headers = [
        ("host", "nope.localhost"),
        ("x-forwarded-host", "acme.localhost"),
        ("forwarded", "host=acme.localhost"),
    ];
    let response = app.get_with("/", &headers).await;
    response.assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_verified_custom_domain_serves_its_firm() {
    let (app, firm) = app_with_acme().await;
    let domain = app.add_domain(&firm, "portal.acme-tax.test").await;
    app.page("portal.acme-tax.test", "/", StatusCode::NOT_FOUND)
        .await;

    app.verify_domain(&firm, &domain).await;
    let page = app
        .page("portal.acme-tax.test", "/login", StatusCode::OK)
        .await;
    assert!(page.contains("ACME Corporation"), "{page}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let (app, _) = app_with_acme().await;
    for (host, status) in [
        ("acme.localhost", 200),
        ("nope.localhost", 404),
        ("a@b", 400),
        ("localhost", 200),
    ] {
        let response = app.get(host, "/static/latchkey.css").await;
        let expected = StatusCode::from_u16(status).unwrap();
        assert_eq!(response.0.status(), expected, "{host}");
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
    let (app, _) = app_with_acme().await;
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
    let (app, _) = app_with_acme().await;
    let page = ("acme.localhost", "/no/such/page");
    assert_404_page(&app, page, "Page not found", true).await;
}

#[tokio::test]
async fn the_stylesheets_are_served() {
    let (app, _) = app_with_acme().await;
    let response = app.get("acme.localhost", "/static/latchkey.css").await;
    response.assert_status_is_ok();
    response.assert_content_type("text/css; charset=utf-8");
    app.page("acme.localhost", "/branding.css", StatusCode::OK)
        .await;
}

#[tokio::test]
async fn the_development_mailbox_does_not_exist_outside_development() {
    let app = spawn_app().await;
    app.page("localhost", "/_dev/mailbox", StatusCode::NOT_FOUND)
        .await;
}

#[tokio::test]
async fn the_bench_ceiling_answers_only_when_configured() {
    let (app, _) = app_with_acme().await;
    app.page("acme.localhost", "/_bench/ceiling", StatusCode::NOT_FOUND)
        .await;

    let bench = crate::helpers::spawn_app_with(&[("LATCHKEY__BENCH__CEILING_ROUTE", "true")]).await;
    bench.create_firm("acme", "ACME Corporation").await;
    // Answered before any middleware: whatever the host, nothing else runs.
    for host in ["acme.localhost", "nobody.localhost"] {
        let response = bench.get(host, "/_bench/ceiling").await;
        response.assert_status_is_ok();
        assert!(!response.0.headers().contains_key("x-request-id"));
    }
    bench.page("acme.localhost", "/login", StatusCode::OK).await;
}
