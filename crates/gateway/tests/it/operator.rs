//! The operator API on the admin listener: every endpoint, its token, its problems,
//! and the firm lifecycle it drives.

use std::time::Duration;

use chrono::Utc;
use poem::http::{Method, StatusCode};
use serde_json::{Value, json};

use identity::StaffRole;

use crate::fixture::{Mailbox, Reverified, one_attempt};
use crate::helpers::{Browser, TestApp, body, location, spawn_app, spawn_app_with};

/// `security.operator_token` in `config/test.toml`.
const TOKEN: &str = "test-operator-token-0123456789abcdef";

struct Answer {
    /// The method and path asked, to name the case in assertions.
    asked: String,
    status: StatusCode,
    content_type: String,
    www_authenticate: Option<String>,
    json: Value,
}

async fn call_with(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    payload: Option<Value>,
) -> Answer {
    let mut request = match method {
        Method::GET => app.admin.get(path),
        Method::POST => app.admin.post(path),
        Method::PATCH => app.admin.patch(path),
        Method::DELETE => app.admin.delete(path),
        other => panic!("no test client method for {other}"),
    };
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(payload) = payload {
        request = request
            .header("content-type", "application/json")
            .body(payload.to_string());
    }
    let response = request.send().await;
    let status = response.0.status();
    let header = |name: &str| {
        response
            .0
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let content_type = header("content-type").unwrap_or_default();
    let www_authenticate = header("www-authenticate");
    let text = body(response).await;
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON from {path}: {text}"))
    };
    Answer {
        asked: format!("{method} {path}"),
        status,
        content_type,
        www_authenticate,
        json,
    }
}

async fn call(app: &TestApp, method: Method, path: &str, payload: Option<Value>) -> Answer {
    call_with(app, method, path, Some(TOKEN), payload).await
}

/// A call with the operator token and `payload` as its JSON body.
async fn send(app: &TestApp, method: Method, path: &str, payload: Value) -> Answer {
    call(app, method, path, Some(payload)).await
}

/// Claims the custom domain `domain` for the firm `slug`.
async fn add_domain(app: &TestApp, slug: &str, domain: &str) -> Answer {
    let path = format!("/api/v1/tenants/{slug}/domains");
    send(app, Method::POST, &path, json!({ "domain": domain })).await
}

/// Makes `domain` the canonical domain of the firm `slug`.
async fn set_canonical(app: &TestApp, slug: &str, domain: &str) -> Answer {
    patch_firm(app, slug, json!({ "canonical_domain": domain })).await
}

/// Changes the firm `slug` by `payload`.
async fn patch_firm(app: &TestApp, slug: &str, payload: Value) -> Answer {
    send(
        app,
        Method::PATCH,
        &format!("/api/v1/tenants/{slug}"),
        payload,
    )
    .await
}

impl Answer {
    /// Asserts the answer's status, showing its JSON if it is another.
    fn expect(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}: {}", self.asked, self.json);
        &self.json
    }
}

/// Asserts an RFC 9457 problem with `status` and `code`.
fn assert_problem(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{}: {}", answer.asked, answer.json);
    assert_eq!(
        answer.content_type, "application/problem+json",
        "{}: {}",
        answer.asked, answer.json
    );
    assert_eq!(
        answer.json["status"],
        status.as_u16(),
        "{}: {}",
        answer.asked,
        answer.json
    );
    assert_eq!(
        answer.json["code"], code,
        "{}: {}",
        answer.asked, answer.json
    );
    assert_eq!(answer.json["type"], "about:blank", "{}", answer.asked);
    assert!(
        answer.json["title"].as_str().is_some_and(|t| !t.is_empty())
            && answer.json["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
        "{}: {}",
        answer.asked,
        answer.json
    );
}

/// An app with the firm `slug` provisioned through the API.
async fn with_firm(slug: &str) -> TestApp {
    let app = spawn_app().await;
    create(&app, slug).await;
    app
}

async fn create(app: &TestApp, slug: &str) -> Answer {
    let payload = json!({
        "slug": slug,
        "name": format!("Firm {slug}"),
        "admin_email": format!("boss@{slug}.test")
    });
    send(app, Method::POST, "/api/v1/tenants", payload).await
}

/// Every route about the firm `slug`, each with a body it takes.
fn firm_routes(slug: &str) -> Vec<(Method, String, Option<Value>)> {
    let firm = format!("/api/v1/tenants/{slug}");
    let mut routes = vec![
        (Method::PATCH, firm.clone(), Some(json!({ "name": "X" }))),
        (Method::DELETE, firm.clone(), None),
        (
            Method::POST,
            format!("{firm}/domains"),
            Some(json!({ "domain": format!("portal.{slug}.test") })),
        ),
    ];
    for (method, suffixes) in [
        (Method::GET, &["", "/domains", "/audit", "/activity"][..]),
        (Method::POST, &["/suspend", "/resume"][..]),
    ] {
        for suffix in suffixes {
            routes.push((method.clone(), format!("{firm}{suffix}"), None));
        }
    }
    routes
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_with_a_challenge() {
    let app = spawn_app().await;
    let retry = "/api/v1/outbox/0190a000-0000-7000-8000-000000000000/retry";
    let mut routes = vec![
        (Method::GET, "/api/v1/tenants".to_owned()),
        (Method::POST, "/api/v1/tenants".to_owned()),
        (Method::GET, "/api/v1/outbox".to_owned()),
        (Method::POST, retry.to_owned()),
        (Method::GET, "/api/v1/no-such-route".to_owned()),
    ];
    routes.extend(
        firm_routes("acme")
            .into_iter()
            .map(|(method, path, _)| (method, path)),
    );
    for (method, path) in routes {
        let path = path.as_str();
        let missing = call_with(&app, method.clone(), path, None, Some(json!({}))).await;
        assert_problem(&missing, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(
            missing.www_authenticate.as_deref(),
            Some(r#"Bearer realm="latchkey-operator""#),
            "{method} {path}"
        );
        let wrong = call_with(&app, method.clone(), path, Some("not-the-token"), None).await;
        assert_problem(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");
        assert!(
            wrong
                .www_authenticate
                .as_deref()
                .is_some_and(|challenge| challenge.contains(r#"error="invalid_token""#)),
            "{method} {path}"
        );
    }
    // Another scheme, or the token with a character missing, is no better.
    let basic = app
        .admin
        .get("/api/v1/tenants")
        .header("authorization", format!("Basic {TOKEN}"))
        .send()
        .await;
    basic.assert_status(StatusCode::UNAUTHORIZED);
    let short = call_with(
        &app,
        Method::GET,
        "/api/v1/tenants",
        Some(&TOKEN[..TOKEN.len() - 1]),
        None,
    )
    .await;
    assert_eq!(short.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&app, Method::GET, "/api/v1/tenants", None)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_spec_and_the_docs_are_served() {
    let app = spawn_app().await;
    let spec = app.admin.get("/api/v1/openapi.json").send().await;
    spec.assert_status_is_ok();
    let spec: Value = serde_json::from_str(&body(spec).await).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    for path in [
        "/tenants",
        "/tenants/{slug}",
        "/tenants/{slug}/suspend",
        "/tenants/{slug}/resume",
        "/tenants/{slug}/domains",
        "/tenants/{slug}/domains/{domain}/verify",
        "/tenants/{slug}/audit",
        "/tenants/{slug}/activity",
        "/outbox",
        "/outbox/{id}/retry",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert_eq!(spec["servers"][0]["url"], "/api/v1");
    assert!(
        spec["components"]["securitySchemes"]["operator_token"]["scheme"]
            .as_str()
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"))
    );
    let docs = app.admin.get("/api/docs").send().await;
    docs.assert_status_is_ok();
    let html = body(docs).await;
    assert!(html.contains("swagger"), "the docs page is Swagger UI");
}

#[tokio::test]
async fn provisioning_invites_the_admin_who_signs_in_at_the_subdomain() {
    let app = spawn_app().await;
    let created = send(
        &app,
        Method::POST,
        "/api/v1/tenants",
        json!({
            "slug": "northwind",
            "name": "Northwind Accounting",
            "admin_email": "Grace@Northwind.test",
            "admin_name": "Grace Hopper"
        }),
    )
    .await;
    created.expect(StatusCode::CREATED);
    assert_eq!(created.json["slug"], "northwind");
    assert_eq!(created.json["status"], "active");
    assert_eq!(
        created.json["portal_url"],
        "http://northwind.localhost/login"
    );
    assert_eq!(created.json["settings"]["effective_reset_link_minutes"], 15);

    let (link, text) = Mailbox::new().link_to(&app, "grace@northwind.test").await;
    assert!(text.contains("Grace Hopper"), "{text}");
    assert!(link.starts_with("http://northwind.localhost/reset/"));

    let admin = Browser::new(&app, "northwind.localhost");
    let opened = admin.open_link(&link).await;
    assert_eq!(opened.0.status(), StatusCode::SEE_OTHER);
    let set = admin.choose_password("northwind ledger 2026").await;
    assert_eq!(set.0.status(), StatusCode::SEE_OTHER);
    let signed_in = admin
        .sign_in_staff("grace@northwind.test", "northwind ledger 2026")
        .await;
    assert_eq!(signed_in.0.status(), StatusCode::SEE_OTHER);
    let settings = admin.get("/staff/settings").await;
    settings.assert_status_is_ok();
    assert!(body(settings).await.contains("Northwind Accounting"));
}

#[tokio::test]
async fn create_refuses_bad_input_with_422_and_a_taken_slug_with_409() {
    let app = spawn_app().await;
    assert_eq!(create(&app, "acme").await.status, StatusCode::CREATED);
    assert_problem(
        &create(&app, "acme").await,
        StatusCode::CONFLICT,
        "slug_taken",
    );
    for (payload, code) in [
        (
            json!({ "slug": "Not A Slug", "name": "X", "admin_email": "a@x.test" }),
            "invalid_slug",
        ),
        (
            json!({ "slug": "okay", "name": "  ", "admin_email": "a@x.test" }),
            "invalid_name",
        ),
        (
            json!({ "slug": "okay", "name": "X", "admin_email": "not an address" }),
            "invalid_email",
        ),
        (
            json!({ "slug": "okay", "name": "X", "admin_email": ".a@example.com" }),
            "invalid_email",
        ),
        (json!({ "slug": "okay", "name": "X" }), "invalid_request"),
        (
            json!({ "slug": "okay", "name": "X", "admin_email": "a@x.test", "colour": "red" }),
            "invalid_request",
        ),
        (json!([1, 2, 3]), "invalid_request"),
        // The spec says a string: `true` is not read as "true".
        (
            json!({ "slug": "okay", "name": true, "admin_email": "a@x.test" }),
            "invalid_request",
        ),
    ] {
        let answer = send(&app, Method::POST, "/api/v1/tenants", payload.clone()).await;
        assert_problem(&answer, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    // A reserved name is well formed, and taken by the platform.
    assert_problem(
        &create(&app, "www").await,
        StatusCode::CONFLICT,
        "slug_reserved",
    );
    let list = call(&app, Method::GET, "/api/v1/tenants", None).await;
    assert_eq!(
        list.json["firms"].as_array().unwrap().len(),
        1,
        "nothing half-made"
    );
}

#[tokio::test]
async fn list_pages_by_slug_and_filters_by_status() {
    let app = spawn_app().await;
    for slug in ["delta", "alpha", "echo", "charlie", "bravo"] {
        create(&app, slug).await;
    }
    call(&app, Method::POST, "/api/v1/tenants/charlie/suspend", None).await;

    let mut seen = Vec::new();
    let mut path = "/api/v1/tenants?limit=2".to_owned();
    loop {
        let page = call(&app, Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::OK);
        let firms = page.json["firms"].as_array().unwrap();
        assert!(firms.len() <= 2);
        seen.extend(firms.iter().map(|f| f["slug"].as_str().unwrap().to_owned()));
        match page.json["next_after"].as_str() {
            Some(after) => path = format!("/api/v1/tenants?limit=2&after={after}"),
            None => break,
        }
    }
    assert_eq!(seen, ["alpha", "bravo", "charlie", "delta", "echo"]);

    let suspended = call(&app, Method::GET, "/api/v1/tenants?status=suspended", None).await;
    let slugs: Vec<&str> = suspended.json["firms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["charlie"]);

    for bad in [
        "/api/v1/tenants?status=sleeping",
        "/api/v1/tenants?limit=0",
        "/api/v1/tenants?limit=501",
        "/api/v1/tenants?limit=many",
    ] {
        let answer = call(&app, Method::GET, bad, None).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(answer.content_type, "application/problem+json", "{bad}");
    }
}

#[tokio::test]
async fn unknown_firms_are_404_everywhere() {
    let app = spawn_app().await;
    let mut routes = firm_routes("nobody");
    for path in [
        "/api/v1/tenants/NOT%20A%20SLUG",
        "/api/v1/outbox?firm=nobody",
    ] {
        routes.push((Method::GET, path.to_owned(), None));
    }
    for (method, path, payload) in routes {
        let answer = call(&app, method, &path, payload).await;
        assert_problem(&answer, StatusCode::NOT_FOUND, "unknown_firm");
    }
    let route = call(&app, Method::GET, "/api/v1/nothing-here", None).await;
    assert_problem(&route, StatusCode::NOT_FOUND, "no_such_route");
}

#[tokio::test]
async fn settings_are_checked_and_apply_to_the_firm() {
    let app = with_firm("acme").await;
    for (settings, field) in [
        (json!({ "reset_link_minutes": 4 }), "reset_link_minutes"),
        (json!({ "reset_link_minutes": 1441 }), "reset_link_minutes"),
        (json!({ "min_password_length": 7 }), "min_password_length"),
        (json!({ "min_password_length": 65 }), "min_password_length"),
        (json!({ "default_locale": "fr" }), "default_locale"),
        (
            json!({ "branding": { "logo_url": "http://insecure.test/logo.png" } }),
            "logo_url",
        ),
        (
            json!({ "branding": { "accent_colour": "red" } }),
            "accent_colour",
        ),
    ] {
        let answer = patch_firm(&app, "acme", json!({ "settings": settings })).await;
        assert_problem(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_setting");
        assert!(
            answer.json["detail"].as_str().unwrap().contains(field),
            "{}",
            answer.json
        );
    }
    let mode = patch_firm(
        &app,
        "acme",
        json!({ "settings": { "reset_mode": "sideways" } }),
    )
    .await;
    assert_problem(&mode, StatusCode::UNPROCESSABLE_ENTITY, "invalid_request");

    let payload = json!({
        "name": "ACME Legal",
        "settings": {
            "reset_link_minutes": 30,
            "reset_mode": "temporary_password",
            "default_locale": "it",
            "min_password_length": 12,
            "branding": { "logo_url": "https://cdn.acme.test/logo.png", "accent_colour": "#0a7c55" }
        }
    });
    let changed = patch_firm(&app, "acme", payload).await;
    changed.expect(StatusCode::OK);
    assert_eq!(changed.json["name"], "ACME Legal");
    let settings = &changed.json["settings"];
    assert_eq!(settings["reset_link_minutes"], 30);
    assert_eq!(settings["effective_reset_link_minutes"], 30);
    assert_eq!(settings["reset_mode"], "temporary_password");
    assert_eq!(settings["default_locale"], "it");
    assert_eq!(settings["min_password_length"], 12);
    assert_eq!(settings["branding"]["accent_colour"], "#0a7c55");

    // The firm's pages follow at once: its name, and its own minimum length.
    let page = app.get("acme.localhost", "/login").await;
    assert!(body(page).await.contains("ACME Legal"));

    // null goes back to the platform's default; fields left out stay.
    let reverted = patch_firm(
        &app,
        "acme",
        json!({ "settings": { "reset_link_minutes": null, "branding": { "logo_url": null } } }),
    )
    .await;
    let settings = &reverted.json["settings"];
    assert_eq!(settings["reset_link_minutes"], Value::Null);
    assert_eq!(settings["effective_reset_link_minutes"], 15);
    assert_eq!(settings["branding"]["logo_url"], Value::Null);
    assert_eq!(settings["branding"]["accent_colour"], "#0a7c55");
    assert_eq!(settings["min_password_length"], 12);
    assert_eq!(reverted.json["name"], "ACME Legal");
}

#[tokio::test]
async fn suspend_and_resume_reach_the_firm_pages_at_once() {
    let app = with_firm("acme").await;
    app.page("acme.localhost", "/login", StatusCode::OK).await;
    let suspended = call(&app, Method::POST, "/api/v1/tenants/acme/suspend", None).await;
    assert_eq!(suspended.json["status"], "suspended");
    app.page("acme.localhost", "/login", StatusCode::FORBIDDEN)
        .await;
    // Suspending twice is not an error.
    assert_eq!(
        call(&app, Method::POST, "/api/v1/tenants/acme/suspend", None)
            .await
            .status,
        StatusCode::OK
    );
    let resumed = call(&app, Method::POST, "/api/v1/tenants/acme/resume", None).await;
    assert_eq!(resumed.json["status"], "active");
    app.page("acme.localhost", "/login", StatusCode::OK).await;
}

#[tokio::test]
async fn another_instance_sees_a_suspension_within_the_cache_ttl() {
    // Two instances on one database: the API call reaches the other one's cache only
    // through its TTL, which this test sets to one second.
    let first = spawn_app_with(&[("LATCHKEY__TENANCY__CACHE_TTL_SECONDS", "1")]).await;
    let second = first.second_instance().await;
    create(&first, "acme").await;
    second
        .get("acme.localhost", "/login")
        .await
        .assert_status_is_ok();
    // The cached entry was made during that request, so it has expired for every
    // request that starts a TTL after it ended: a claim about the order of events,
    // which a slow machine cannot break as it can a fixed wall-clock budget. The
    // margin covers the cache's own clock reading a little behind ours.
    let expired_by = std::time::Instant::now() + Duration::from_millis(1100);
    call(&first, Method::POST, "/api/v1/tenants/acme/suspend", None).await;
    loop {
        let started = std::time::Instant::now();
        let status = second.get("acme.localhost", "/login").await.0.status();
        if status == StatusCode::FORBIDDEN {
            break;
        }
        assert!(started < expired_by, "still {status} after the TTL");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn delete_takes_the_firm_offline_and_purge_removes_all_its_data() {
    let app = with_firm("acme").await;
    create(&app, "keeper").await;
    let acme = app.people_of(app.stored_firm("acme").await).await.tenant;
    add_domain(&app, "acme", "portal.acme.test").await;

    let deleted = call(&app, Method::DELETE, "/api/v1/tenants/acme", None).await;
    deleted.expect(StatusCode::OK);
    assert_eq!(deleted.json["status"], "deleted");
    assert!(deleted.json["purge_after"].is_string());
    app.page("acme.localhost", "/login", StatusCode::NOT_FOUND)
        .await;
    for (method, path) in [
        (Method::POST, "/api/v1/tenants/acme/suspend"),
        (Method::POST, "/api/v1/tenants/acme/resume"),
    ] {
        let answer = call(&app, method, path, None).await;
        assert_problem(&answer, StatusCode::CONFLICT, "firm_deleted");
    }
    assert_problem(
        &patch_firm(&app, "acme", json!({ "name": "Back" })).await,
        StatusCode::CONFLICT,
        "firm_deleted",
    );
    // Still listed, for operators, until the purge.
    let listed = call(&app, Method::GET, "/api/v1/tenants?status=deleted", None).await;
    assert_eq!(listed.json["firms"][0]["slug"], "acme");

    // Not yet: the grace period holds.
    let early = app.purge_deleted_firms(Utc::now()).await.unwrap();
    assert!(early.is_empty());
    assert!(count_rows_of(&app, acme.id).await > 0);

    let later = Utc::now() + chrono::Duration::days(31);
    let purged = app.purge_deleted_firms(later).await.unwrap();
    assert_eq!(
        purged.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["acme"]
    );
    assert_eq!(
        count_rows_of(&app, acme.id).await,
        0,
        "nothing of the firm is left"
    );
    let asked = "/api/v1/tenants/acme";
    let answer = call(&app, Method::GET, asked, None).await;
    assert_problem(&answer, StatusCode::NOT_FOUND, "unknown_firm");
    assert_eq!(
        call(&app, Method::GET, "/api/v1/tenants/keeper", None)
            .await
            .status,
        StatusCode::OK,
        "other firms stay"
    );
    // The slug is free again.
    assert_eq!(create(&app, "acme").await.status, StatusCode::CREATED);
}

/// Rows that belong to a firm, across every table that has a `tenant_id`, and the
/// firm's own row.
async fn count_rows_of(app: &TestApp, tenant: tenancy::TenantId) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.db();
    let backend = db.get_database_backend();
    let placeholder = match backend {
        sea_orm::DbBackend::Postgres => "$1",
        _ => "?",
    };
    let mut total = 0;
    for (table, column) in [
        ("tenant_domains", "tenant_id"),
        ("staff_users", "tenant_id"),
        ("clients", "tenant_id"),
        ("contacts", "tenant_id"),
        ("sessions", "tenant_id"),
        ("outbox_messages", "tenant_id"),
        ("reset_tokens", "tenant_id"),
        ("reset_requests", "tenant_id"),
        ("audit_events", "tenant_id"),
        ("access_requests", "tenant_id"),
        ("tenants", "id"),
    ] {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = {placeholder}");
        let values = [tenant.as_uuid().into()];
        let row = db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .unwrap()
            .unwrap();
        total += row.try_get::<i64>("", "n").unwrap();
    }
    total
}

#[tokio::test]
async fn a_custom_domain_serves_the_firm_once_verified_and_can_be_canonical() {
    let app = with_firm("acme").await;
    let added = add_domain(&app, "acme", "Portal.ACME.test").await;
    added.expect(StatusCode::CREATED);
    assert_eq!(added.json["domain"], "portal.acme.test");
    assert_eq!(added.json["verified"], false);
    assert_eq!(
        added.json["txt_record_name"],
        "_latchkey-challenge.portal.acme.test"
    );
    let value = added.json["txt_record_value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("latchkey-verification="));

    // Unverified: it serves nothing, and cannot be canonical.
    app.page("portal.acme.test", "/login", StatusCode::NOT_FOUND)
        .await;
    assert_problem(
        &set_canonical(&app, "acme", "portal.acme.test").await,
        StatusCode::CONFLICT,
        "domain_not_verified",
    );
    let verify = "/api/v1/tenants/acme/domains/portal.acme.test/verify";
    // Neither a missing record nor another value verifies it.
    for record in [None, Some("some other value")] {
        if let Some(other) = record {
            app.dns
                .publish("_latchkey-challenge.portal.acme.test", other);
        }
        let answer = call(&app, Method::POST, verify, None).await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "record {record:?}");
        assert_problem(&answer, StatusCode::CONFLICT, "domain_not_verified");
    }

    app.dns
        .publish("_latchkey-challenge.portal.acme.test", &value);
    let verified = call(&app, Method::POST, verify, None).await;
    verified.expect(StatusCode::OK);
    assert_eq!(verified.json["verified"], true);
    app.page("portal.acme.test", "/login", StatusCode::OK).await;

    let canonical = set_canonical(&app, "acme", "portal.acme.test").await;
    assert_eq!(canonical.json["canonical_domain"], "portal.acme.test");
    assert_eq!(
        canonical.json["portal_url"],
        "http://portal.acme.test/login"
    );

    // Conflicts and bad domains.
    create(&app, "other").await;
    assert_problem(
        &add_domain(&app, "other", "portal.acme.test").await,
        StatusCode::CONFLICT,
        "domain_taken",
    );
    for platform in ["localhost", "acme.localhost"] {
        assert_problem(
            &add_domain(&app, "other", platform).await,
            StatusCode::CONFLICT,
            "platform_domain",
        );
    }
    // 234 characters: its TXT record name would pass 253.
    let too_long_to_verify = format!("{}examples", "a.".repeat(113));
    for bad in [
        "not a domain",
        "[::1]",
        "portal.other.test.",
        too_long_to_verify.as_str(),
    ] {
        assert_problem(
            &add_domain(&app, "other", bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_domain",
        );
    }
    // A canonical domain the firm never claimed conflicts with the firm's state; the
    // firm itself, the URI, is there.
    assert_problem(
        &set_canonical(&app, "other", "portal.other.test").await,
        StatusCode::CONFLICT,
        "unknown_domain",
    );
    let asked = "/api/v1/tenants/other/domains/not%20a%20domain/verify";
    let answer = call(&app, Method::POST, asked, None).await;
    assert_problem(&answer, StatusCode::NOT_FOUND, "unknown_domain");
    let listed = call(&app, Method::GET, "/api/v1/tenants/acme/domains", None).await;
    assert_eq!(listed.json["domains"].as_array().unwrap().len(), 1);

    // Removing the canonical domain sends links back to the subdomain.
    let removed = call(
        &app,
        Method::DELETE,
        "/api/v1/tenants/acme/domains/portal.acme.test",
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    app.page("portal.acme.test", "/login", StatusCode::NOT_FOUND)
        .await;
    let firm = call(&app, Method::GET, "/api/v1/tenants/acme", None).await;
    assert_eq!(firm.json["canonical_domain"], Value::Null);
    assert_eq!(firm.json["portal_url"], "http://acme.localhost/login");
    let asked = "/api/v1/tenants/acme/domains/portal.acme.test";
    let answer = call(&app, Method::DELETE, asked, None).await;
    assert_problem(&answer, StatusCode::NOT_FOUND, "unknown_domain");
}

#[tokio::test]
async fn dead_messages_are_listed_and_retried() {
    let app = with_firm("acme").await;
    // The invitation fails for good: a transport that refuses everything.
    let worker = app.bare_delivery_worker(
        notification::Transport::smtp("smtp://127.0.0.1:9?tls=none").unwrap(),
        one_attempt(),
    );
    worker.deliver_due().await.unwrap();

    let dead = call(&app, Method::GET, "/api/v1/outbox?status=dead", None).await;
    dead.expect(StatusCode::OK);
    let messages = dead.json["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message["firm"], "acme");
    assert_eq!(message["kind"], "invitation");
    assert_eq!(message["status"], "dead");
    assert!(message["last_error"].is_string());
    assert!(message.get("html_body").is_none() && message.get("text_body").is_none());
    let id = message["id"].as_str().unwrap().to_owned();

    let sent = call(&app, Method::GET, "/api/v1/outbox?status=sent", None).await;
    assert!(sent.json["messages"].as_array().unwrap().is_empty());
    let by_firm = call(&app, Method::GET, "/api/v1/outbox?firm=acme", None).await;
    assert_eq!(by_firm.json["messages"].as_array().unwrap().len(), 1);

    use sea_orm::ConnectionTrait as _;
    // The dead invitation's link is not kept at rest...
    let backend = app.state.services.db.get_database_backend();
    let unwiped = app
        .state
        .services
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM outbox_messages \
             WHERE status = 'dead' AND (text_body <> '' OR html_body <> '')",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(unwiped, 0, "a dead credential's body is wiped");

    // ...nor ever sent stale: the retry issues a new invitation, which replaces it.
    let retried = call(
        &app,
        Method::POST,
        &format!("/api/v1/outbox/{id}/retry"),
        None,
    )
    .await;
    retried.expect(StatusCode::OK);
    assert_eq!(retried.json["status"], "queued");
    assert_eq!(retried.json["kind"], "invitation");
    assert_eq!(retried.json["attempts"], 0);
    let new_id = retried.json["id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id, "a new message with a new link");
    for (message, status, code) in [
        (id.as_str(), StatusCode::NOT_FOUND, "unknown_message"),
        (new_id.as_str(), StatusCode::CONFLICT, "message_not_dead"),
        (
            "0190a000-0000-7000-8000-000000000000",
            StatusCode::NOT_FOUND,
            "unknown_message",
        ),
        (
            "not-an-id",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
    ] {
        let retry = format!("/api/v1/outbox/{message}/retry");
        let answer = call(&app, Method::POST, &retry, None).await;
        assert_problem(&answer, status, code);
    }
}

#[tokio::test]
async fn audit_events_page_and_activity_counts_resets() {
    let app = with_firm("acme").await;
    let firm = app.people_of(app.stored_firm("acme").await).await;
    let staff = app.signed_in_staff(&firm, StaffRole::Staff).await;
    let contact = &firm.contact;
    for _ in 0..3 {
        let pressed = staff.press_reset(contact).await;
        assert!(
            pressed.0.status().is_redirection(),
            "{}",
            location(&pressed)
        );
    }

    let activity = call(&app, Method::GET, "/api/v1/tenants/acme/activity", None).await;
    activity.expect(StatusCode::OK);
    assert_eq!(activity.json["resets_requested"], 3);
    assert_eq!(activity.json["resets_completed"], 0);
    assert_eq!(activity.json["resets_expired"], 0);

    // The administrator's invitation when the firm was provisioned, by the system;
    // then three resets, each "requested" and "queued" by staff: seven events, four
    // pages of two.
    let mut seen = Vec::new();
    let mut events = Vec::new();
    let mut path = "/api/v1/tenants/acme/audit?limit=2".to_owned();
    loop {
        let page = call(&app, Method::GET, &path, None).await;
        page.expect(StatusCode::OK);
        for event in page.json["events"].as_array().unwrap() {
            seen.push(event["id"].as_str().unwrap().to_owned());
            events.push(event.clone());
        }
        match page.json["next_before"].as_str() {
            Some(before) => path = format!("/api/v1/tenants/acme/audit?limit=2&before={before}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let (resets, invitation) = events.split_at(6);
    for event in resets {
        assert_eq!(event["subject_id"], contact.id.to_string());
        assert_eq!(event["actor_kind"], "staff");
    }
    assert_eq!(invitation[0]["action"], "invited", "{}", invitation[0]);
    assert_eq!(invitation[0]["actor_kind"], "system", "{}", invitation[0]);
    assert_eq!(invitation[0]["subject_kind"], "staff", "{}", invitation[0]);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first, no repeats");
    sorted.dedup();
    assert_eq!(sorted.len(), 7);
}

#[tokio::test]
async fn a_deleted_firm_is_gone_from_its_uris_and_listed_until_the_purge() {
    let app = with_firm("acme").await;
    let added = add_domain(&app, "acme", "portal.acme.test").await;
    added.expect(StatusCode::CREATED);
    let deleted = call(&app, Method::DELETE, "/api/v1/tenants/acme", None).await;
    deleted.expect(StatusCode::OK);

    for suffix in ["", "/domains", "/audit", "/activity"] {
        let path = format!("/api/v1/tenants/acme{suffix}");
        let answer = call(&app, Method::GET, &path, None).await;
        assert_problem(&answer, StatusCode::NOT_FOUND, "firm_deleted");
        assert!(
            answer.json["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("purged after")),
            "{path}: {}",
            answer.json
        );
    }
    let listed = call(&app, Method::GET, "/api/v1/tenants?status=deleted", None).await;
    assert_eq!(listed.json["firms"][0]["slug"], "acme");
    assert!(listed.json["firms"][0]["purge_after"].is_string());
    // Deleting again changes nothing and says so alike.
    let again = call(&app, Method::DELETE, "/api/v1/tenants/acme", None).await;
    again.expect(StatusCode::OK);
}

#[tokio::test]
async fn a_405_says_which_methods_the_route_takes() {
    let app = with_firm("acme").await;
    for (request, allow) in [
        (
            app.admin.put("/api/v1/tenants/acme"),
            "DELETE, GET, PATCH, HEAD",
        ),
        (app.admin.delete("/api/v1/tenants"), "GET, POST, HEAD"),
        (app.admin.get("/api/v1/tenants/acme/suspend"), "POST"),
        (
            app.admin
                .options("/api/v1/tenants/acme/domains/portal.acme.test"),
            "DELETE",
        ),
    ] {
        let response = request
            .header("authorization", format!("Bearer {TOKEN}"))
            .send()
            .await;
        response.assert_status(StatusCode::METHOD_NOT_ALLOWED);
        response.assert_header("allow", allow);
        response.assert_content_type("application/problem+json");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_as_the_spec_says() {
    let app = spawn_app().await;
    let response = app
        .admin
        .post("/api/v1/tenants")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "text/plain")
        .body("slug=acme")
        .send()
        .await;
    response.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    response.assert_content_type("application/problem+json");
    let problem: Value = serde_json::from_str(&body(response).await).unwrap();
    assert_eq!(problem["code"], "unsupported_media_type");

    let spec = spec(&app).await;
    for (path, method) in [
        ("/tenants", "post"),
        ("/tenants/{slug}", "patch"),
        ("/tenants/{slug}/domains", "post"),
    ] {
        assert!(
            spec["paths"][path][method]["responses"]["415"].is_object(),
            "{method} {path} documents 415"
        );
    }
    assert!(
        spec["paths"]["/tenants"]["get"]["responses"]["415"].is_null(),
        "an operation without a body never answers 415"
    );
}

async fn spec(app: &TestApp) -> Value {
    let spec = app.admin.get("/api/v1/openapi.json").send().await;
    spec.assert_status_is_ok();
    serde_json::from_str(&body(spec).await).unwrap()
}

#[tokio::test]
async fn the_spec_declares_nulls_and_the_bounds_the_server_enforces() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let schemas = &spec["components"]["schemas"];
    for (schema, field) in [
        ("FirmView", "canonical_domain"),
        ("FirmView", "deleted_at"),
        ("FirmView", "purge_after"),
        ("FirmList", "next_after"),
        ("SettingsView", "reset_link_minutes"),
        ("SettingsView", "min_password_length"),
        ("BrandingView", "logo_url"),
        ("BrandingView", "accent_colour"),
        ("DomainView", "verified_at"),
        ("AuditPage", "next_before"),
        ("AuditEventView", "actor_id"),
        ("MessageView", "firm"),
        ("MessageView", "sent_at"),
        ("SetAsideView", "firm"),
        ("UpdateFirm", "canonical_domain"),
        ("SettingsChange", "reset_link_minutes"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["nullable"], true,
            "{schema}.{field} may be null"
        );
    }
    assert_eq!(
        schemas["UpdateFirm"]["properties"]["name"].get("nullable"),
        None,
        "a name cannot be null"
    );

    for (path, operation) in [
        ("/tenants", "get"),
        ("/tenants/{slug}/audit", "get"),
        ("/outbox", "get"),
        ("/requests", "get"),
    ] {
        let limit = spec["paths"][path][operation]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|parameter| parameter["name"] == "limit")
            .unwrap_or_else(|| panic!("{path} takes a limit"));
        assert_eq!(limit["schema"]["minimum"], 1.0, "{path}");
        assert_eq!(limit["schema"]["maximum"], 500.0, "{path}");
    }

    let create = &schemas["CreateFirm"];
    assert_eq!(create["additionalProperties"], false);
    assert_eq!(create["properties"]["slug"]["maxLength"], 63);
    assert!(create["properties"]["slug"]["pattern"].is_string());
    assert!(create["properties"]["name"]["pattern"].is_string());
    assert_eq!(create["properties"]["admin_email"]["format"], "email");
    assert_eq!(
        schemas["AddDomain"]["properties"]["domain"]["maxLength"],
        tenancy::MAX_CUSTOM_DOMAIN_LENGTH
    );
    let settings = &schemas["SettingsChange"]["properties"];
    assert_eq!(settings["reset_link_minutes"]["minimum"], 5.0);
    assert_eq!(settings["reset_link_minutes"]["maximum"], 1440.0);
    assert_eq!(settings["min_password_length"]["minimum"], 8.0);
    assert_eq!(settings["min_password_length"]["maximum"], 64.0);
    assert_eq!(settings["default_locale"]["enum"], json!(["en", "it"]));
    assert_eq!(schemas["SettingsChange"]["additionalProperties"], false);
    assert_eq!(schemas["BrandingChange"]["additionalProperties"], false);
    assert_eq!(
        schemas["FirmView"].get("additionalProperties"),
        None,
        "answers may grow fields"
    );
}

#[tokio::test]
async fn null_is_refused_where_the_spec_does_not_allow_it() {
    let app = with_firm("acme").await;
    for payload in [
        json!({ "name": null }),
        json!({ "admin_email": null }),
        json!({ "settings": null }),
        json!({ "settings": { "reset_mode": null } }),
        json!({ "settings": { "default_locale": null } }),
        json!({ "settings": { "branding": null } }),
    ] {
        assert_problem(
            &patch_firm(&app, "acme", payload).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        );
    }
    // Where null is documented, it restores the default.
    let restored = patch_firm(
        &app,
        "acme",
        json!({ "settings": { "reset_link_minutes": null, "branding": { "logo_url": null } } }),
    )
    .await;
    restored.expect(StatusCode::OK);
    // The administrator's address is held to the same rules as at provisioning.
    assert_problem(
        &patch_firm(&app, "acme", json!({ "admin_email": ".a@example.com" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_email",
    );
}

#[tokio::test]
async fn any_slug_shaped_cursor_pages_and_others_are_refused() {
    let app = spawn_app().await;
    for slug in ["alpha", "zulu"] {
        create(&app, slug).await;
    }
    // `www` is reserved, so no firm has it, but the firms after it are well defined.
    let page = call(&app, Method::GET, "/api/v1/tenants?after=www", None).await;
    assert_eq!(page.expect(StatusCode::OK)["firms"][0]["slug"], "zulu");
    let refused = call(
        &app,
        Method::GET,
        "/api/v1/tenants?after=Not%20a%20slug",
        None,
    );
    assert_problem(
        &refused.await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_cursor",
    );
}

/// A verified domain whose TXT record is taken down lapses: checked again (by hand or
/// by the daily re-verification) it stops serving the firm and stops being the host
/// of its links; a record still in place is confirmed, and DNS failing changes
/// nothing.
#[tokio::test]
async fn a_custom_domain_whose_record_is_gone_lapses() {
    let app = with_firm("acme").await;
    let added = add_domain(&app, "acme", "portal.acme.test").await;
    let value = added.json["txt_record_value"].as_str().unwrap().to_owned();
    let record = "_latchkey-challenge.portal.acme.test";
    app.dns.publish(record, &value);
    let verify = "/api/v1/tenants/acme/domains/portal.acme.test/verify";
    assert_eq!(
        call(&app, Method::POST, verify, None).await.status,
        StatusCode::OK
    );
    let canonical = set_canonical(&app, "acme", "portal.acme.test").await;
    assert_eq!(canonical.json["canonical_domain"], "portal.acme.test");

    // Still in place a day later: confirmed, nothing changes.
    let tomorrow = Utc::now() + chrono::Duration::hours(25);
    let checked = app.reverify_domains(tomorrow).await;
    assert_eq!((checked.confirmed, checked.lapsed), (1, 0));
    app.page("portal.acme.test", "/login", StatusCode::OK).await;
    // Just confirmed: not due again for a day.
    let again = app.reverify_domains(tomorrow).await;
    assert_eq!(again, Reverified::default());

    // The record is taken down (the domain was sold): the next day's round drops it.
    app.dns.publish(record, "someone else's value");
    let later = tomorrow + chrono::Duration::hours(25);
    let checked = app.reverify_domains(later).await;
    assert_eq!((checked.confirmed, checked.lapsed), (0, 1));
    app.page("portal.acme.test", "/login", StatusCode::NOT_FOUND)
        .await;
    let firm = call(&app, Method::GET, "/api/v1/tenants/acme", None).await;
    assert!(firm.json["canonical_domain"].is_null(), "{}", firm.json);
    assert_eq!(
        firm.json["portal_url"], "http://acme.localhost/login",
        "links go back to the platform subdomain"
    );
    let domains = call(&app, Method::GET, "/api/v1/tenants/acme/domains", None).await;
    assert_eq!(
        domains.json["domains"][0]["verified"], false,
        "{}",
        domains.json
    );

    // Checked by hand, a verified domain without its record lapses the same way.
    app.dns.publish(record, &value);
    assert_eq!(
        call(&app, Method::POST, verify, None).await.status,
        StatusCode::OK
    );
    app.dns.publish(record, "gone");
    let answer = call(&app, Method::POST, verify, None).await;
    assert_problem(&answer, StatusCode::CONFLICT, "domain_not_verified");
    app.page("portal.acme.test", "/login", StatusCode::NOT_FOUND)
        .await;
}
