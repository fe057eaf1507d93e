//! What an attacker sends: every route's headers and cookies, and a table of hostile
//! input over the forms, each answered with a clear message and the right status,
//! with nothing half-written.

use poem::http::StatusCode;

use identity::StaffRole;

use crate::fixture::{CONTACT_PASSWORD, Firm, STAFF_PASSWORD};
use crate::helpers::{Browser, TestApp, body, spawn_app, spawn_https_app};

async fn firm(app: &TestApp) -> Firm {
    app.firm_named("acme", "ACME Corporation").await
}

/// Every path of a firm's host, with real ids.
fn firm_paths(firm: &Firm) -> Vec<String> {
    let client = firm.client.id;
    let contact = firm.contact.id;
    [
        "/",
        "/login",
        "/account/password",
        "/reset",
        "/forgot-password",
        "/reset/not-a-token",
        "/request-access",
        "/staff",
        "/staff/login",
        "/staff/workspaces",
        "/staff/clients",
        "/staff/clients/new",
        "/staff/access-requests",
        "/staff/team",
        "/staff/settings",
        "/branding.css",
        "/static/latchkey.css",
        "/static/latchkey.js",
        "/no/such/page",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([
        format!("/staff/clients/{client}/edit"),
        format!("/staff/clients/{client}/contacts"),
        format!("/staff/clients/{client}/contacts/new"),
        format!("/staff/clients/{client}/contacts/{contact}"),
        format!("/staff/clients/{client}/contacts/{contact}/edit"),
    ])
    .collect()
}

/// The form actions of a firm's host, posted to with no CSRF token.
fn firm_actions(firm: &Firm) -> Vec<String> {
    let client = firm.client.id;
    let contact = firm.contact.id;
    let request = uuid::Uuid::now_v7();
    [
        "/login",
        "/logout",
        "/account/password",
        "/reset",
        "/forgot-password",
        "/reset/temporary",
        "/staff/login",
        "/staff/logout",
        "/staff/clients/new",
        "/request-access",
        "/staff/team",
        "/staff/settings",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([
        format!("/staff/clients/{client}/edit"),
        format!("/staff/clients/{client}/contacts/new"),
        format!("/staff/clients/{client}/contacts/{contact}/edit"),
        format!("/staff/clients/{client}/contacts/{contact}/reset-password"),
        format!("/staff/access-requests/{request}/approve"),
        format!("/staff/access-requests/{request}/decline"),
    ])
    .collect()
}

fn assert_secure(response: &poem::test::TestResponse, what: &str) {
    let headers = response.0.headers();
    for (name, expected) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
    ] {
        assert_eq!(
            headers.get(name).map(|value| value.to_str().unwrap()),
            Some(expected),
            "{name} on {what}"
        );
    }
    let csp = headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("a CSP on {what}"))
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{what}: {csp}"
    );
    assert!(headers.contains_key("x-request-id"), "{what}");
    for cookie in headers.get_all("set-cookie") {
        let cookie = cookie.to_str().unwrap();
        let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
        for required in ["HttpOnly", "Secure"] {
            assert!(attributes.contains(&required), "{what}: {cookie}");
        }
        assert!(
            attributes.contains(&"SameSite=Lax") || attributes.contains(&"SameSite=Strict"),
            "{what}: {cookie}"
        );
        assert!(
            !attributes.iter().any(|a| a.starts_with("Domain")),
            "host-only: {what}: {cookie}"
        );
        // A cookie for the whole host carries the __Host- prefix, so no sibling
        // subdomain can plant one; the reset cookie is confined to /reset instead.
        if attributes.contains(&"Path=/") {
            assert!(cookie.starts_with("__Host-"), "{what}: {cookie}");
        } else {
            assert!(attributes.contains(&"Path=/reset"), "{what}: {cookie}");
        }
    }
}

#[tokio::test]
async fn every_route_sends_the_security_headers_and_only_strict_cookies() {
    let app = spawn_https_app().await;
    let firm = firm(&app).await;
    let admin = app.add_staff(&firm, StaffRole::Admin).await;
    let anonymous = Browser::new(&app, "acme.localhost");
    let staff = Browser::new(&app, "acme.localhost");
    let signed_in = staff.sign_in_staff(&admin, STAFF_PASSWORD).await;
    assert_secure(&signed_in, "the staff sign-in");
    let contact = Browser::new(&app, "acme.localhost");
    let signed_in = contact
        .sign_in_contact("body.boom@acme.test", CONTACT_PASSWORD)
        .await;
    assert_secure(&signed_in, "the contact sign-in");
    for (who, browser) in [
        ("anonymous", &anonymous),
        ("staff", &staff),
        ("contact", &contact),
    ] {
        for path in firm_paths(&firm) {
            let response = browser.get(&path).await;
            assert_secure(&response, &format!("GET {path} as {who}"));
        }
        for action in firm_actions(&firm) {
            let response = browser.post(&action, &[("csrf_token", "forged")]).await;
            assert!(
                response.0.status().is_client_error() || response.0.status().is_redirection(),
                "POST {action} as {who}: {}",
                response.0.status()
            );
            assert_secure(&response, &format!("POST {action} as {who}"));
        }
    }
    let platform = Browser::new(&app, "localhost");
    for path in ["/", "/find-your-firm", "/static/latchkey.css", "/nothing"] {
        assert_secure(
            &platform.get(path).await,
            &format!("GET {path} on the platform"),
        );
    }
    assert_secure(
        &platform
            .post("/find-your-firm", &[("email", "a@b.test")])
            .await,
        "POST /find-your-firm without a token",
    );
}

/// Counts what hostile input could have half-written.
async fn stored(app: &TestApp) -> (usize, usize) {
    let firm = app.stored_firm("acme").await;
    let clients = identity::list_clients(&app.state.services.db, firm.id, None, 1, 200)
        .await
        .unwrap()
        .total as usize;
    let mut contacts = 0;
    for page in identity::list_clients(&app.state.services.db, firm.id, None, 1, 200)
        .await
        .unwrap()
        .clients
    {
        contacts += identity::list_contacts(&app.state.services.db, firm.id, page.id)
            .await
            .unwrap()
            .len();
    }
    (clients, contacts)
}

/// Posts a raw body to `path` with the browser's cookies and the page's CSRF token.
async fn post_raw(
    browser: &Browser<'_>,
    page: &str,
    path: &str,
    body: Vec<u8>,
) -> poem::test::TestResponse {
    let token = browser.csrf_token(page).await;
    let mut raw = format!("csrf_token={}&", urlencode(&token)).into_bytes();
    raw.extend(body);
    browser
        .app
        .public
        .post(path)
        .header("host", browser.host.as_str())
        .header(
            "cookie",
            format!(
                "latchkey_staff={}; latchkey_csrf={}",
                browser.cookie("latchkey_staff").unwrap_or_default(),
                browser.cookie("latchkey_csrf").unwrap_or_default()
            ),
        )
        .content_type("application/x-www-form-urlencoded")
        .body(raw)
        .send()
        .await
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn hostile_input_gets_a_clear_answer_and_writes_nothing() {
    let app = spawn_app().await;
    let firm = firm(&app).await;
    let admin = app.signed_in_staff(&firm, StaffRole::Admin).await;
    let before = stored(&app).await;
    let new_client = "/staff/clients/new";
    let new_contact = format!("/staff/clients/{}/contacts/new", firm.client.id);
    let long_email = format!("{}@acme.test", "a".repeat(10 * 1024));
    let cases: Vec<(&str, &str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "a body over the limit",
            new_client,
            format!("name={}", "x".repeat(4096)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request too large",
        ),
        (
            "invalid UTF-8",
            new_client,
            b"name=%FF%FE".to_vec(),
            StatusCode::BAD_REQUEST,
            "Bad request",
        ),
        (
            "a NUL in a name",
            new_client,
            b"name=Wayne%00Enterprises".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter the client",
        ),
        (
            "CRLF in a name",
            new_client,
            b"name=Wayne%0D%0ABcc%3A%20x%40evil.test".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter the client",
        ),
        (
            "a field twice",
            new_client,
            b"name=Wayne&name=Stark".to_vec(),
            StatusCode::BAD_REQUEST,
            "Bad request",
        ),
        (
            "a field as an array",
            new_client,
            b"name[]=Wayne".to_vec(),
            StatusCode::BAD_REQUEST,
            "Bad request",
        ),
        (
            "a 10 KB email",
            &new_contact,
            format!("name=Long&email={long_email}&locale=en").into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request too large",
        ),
        (
            "a mixed-case duplicate of an existing email",
            &new_contact,
            b"name=Twin&email=Body.Boom%40ACME.test&locale=en".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "already exists",
        ),
        (
            "an email with a CRLF header",
            &new_contact,
            b"name=Inject&email=x%40acme.test%0D%0ABcc%3Ay%40evil.test&locale=en".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email address",
        ),
    ];
    for (what, path, raw, status, text) in cases {
        let response = post_raw(&admin, path, path, raw).await;
        assert_eq!(response.0.status(), status, "{what}");
        let html = body(response).await;
        assert!(html.contains(text), "{what}: {html}");
        assert_eq!(stored(&app).await, before, "{what} wrote nothing");
    }

    // A homoglyph is another, valid (internationalised) address: a contact of its
    // own, never mistaken for the account it imitates.
    let homoglyph = "b\u{43e}dy.boom@acme.test";
    let raw = format!("name=Homoglyph&email={}&locale=en", urlencode(homoglyph));
    post_raw(&admin, &new_contact, &new_contact, raw.into_bytes())
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let contacts = identity::list_contacts(
        &app.state.services.db,
        firm.contact.tenant_id,
        firm.client.id,
    )
    .await
    .unwrap();
    let emails: Vec<&str> = contacts.iter().map(|c| c.email.as_str()).collect();
    assert!(
        emails.contains(&homoglyph) && emails.contains(&"body.boom@acme.test"),
        "{emails:?}"
    );
}

#[tokio::test]
async fn stored_text_is_shown_literally_and_searches_are_data() {
    let app = spawn_app().await;
    let firm = firm(&app).await;
    let admin = app.signed_in_staff(&firm, StaffRole::Admin).await;
    for hostile in [
        "{{ 7*7 }} {% if true %}yes{% endif %}",
        "<script>alert(1)</script>",
        "Robert'); DROP TABLE clients;--",
    ] {
        admin
            .fill_in("/staff/clients/new", &[("name", hostile)])
            .await
            .assert_status(StatusCode::SEE_OTHER);
    }
    let list = admin.text("/staff/clients").await;
    assert!(
        list.contains("{{ 7*7 }} {% if true %}yes{% endif %}"),
        "{list}"
    );
    assert!(!list.contains("<script>alert(1)</script>"));
    assert!(
        list.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{list}"
    );
    assert!(
        list.contains("Robert&#x27;); DROP TABLE clients;--"),
        "{list}"
    );
    for query in ["%27%20OR%201%3D1%20--", "%25", "_", "%5C"] {
        let page = admin.get(&format!("/staff/clients?q={query}")).await;
        page.assert_status_is_ok();
        let html = body(page).await;
        assert!(
            !html.contains("John A. Teague"),
            "{query} matched everything"
        );
    }
    for (path, status) in [
        ("/staff/clients?page=0", StatusCode::OK),
        ("/staff/clients?page=-1", StatusCode::BAD_REQUEST),
        ("/staff/clients?page=1e9", StatusCode::BAD_REQUEST),
        (
            "/staff/clients?page=18446744073709551616",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        admin.get(path).await.assert_status(status);
    }
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/staff/clients/{unknown}/contacts"),
        format!("/staff/clients/{unknown}/edit"),
        format!("/staff/clients/{unknown}/contacts/{unknown}"),
        "/staff/clients/not-a-uuid/contacts".to_owned(),
        "/staff/clients/%00/contacts".to_owned(),
    ] {
        let page = admin.get(&path).await;
        page.assert_status(StatusCode::NOT_FOUND);
        assert!(body(page).await.contains("Page not found"), "{path}");
    }
    for action in ["approve", "decline"] {
        let path = format!("/staff/access-requests/{unknown}/{action}");
        admin
            .submit("/staff/access-requests", &path, &[])
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn the_public_forms_refuse_hostile_input_alike() {
    let app = spawn_app().await;
    firm(&app).await;
    let visitor = Browser::new(&app, "acme.localhost");
    for (fields, status) in [
        (
            vec![("email", "a@b.test"), ("email", "c@d.test")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("email", "not an address")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            vec![("email", "x@acme.test\r\nBcc: y@evil.test")],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (vec![("email", "b\u{43e}dy.boom@acme.test")], StatusCode::OK),
    ] {
        let response = visitor.fill_in("/forgot-password", &fields).await;
        assert_eq!(response.0.status(), status, "{fields:?}");
    }
    let nothing =
        reset_token::pending_reset_requests(&app.state.services.db, chrono::Utc::now(), 10)
            .await
            .unwrap();
    assert!(
        nothing
            .iter()
            .all(|request| request.email != "body.boom@acme.test"),
        "a homoglyph is another address: {nothing:?}"
    );
}
