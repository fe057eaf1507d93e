//! Forms carry a token that only a page of ours could have given: the MAC of a
//! cookie the browser holds.

use poem::http::StatusCode;

use crate::helpers::{Browser, body, csrf_token_in, spawn_app, spawn_app_with};

fn set_cookies(response: &poem::test::TestResponse) -> Vec<String> {
    response
        .0
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_browser_gets_one_cookie_and_tokens_bound_to_it() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    let browser = Browser::new(&app, "acme.localhost");
    let first = browser.get("/login").await;
    let cookies = set_cookies(&first);
    let csrf_cookie = cookies
        .iter()
        .find(|cookie| cookie.starts_with("latchkey_csrf="))
        .expect("a CSRF cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(csrf_cookie.contains(attribute), "{csrf_cookie}");
    }
    assert!(!csrf_cookie.contains("Domain"), "host-only: {csrf_cookie}");
    let token = csrf_token_in(&body(first).await);
    // Holding the cookie, a browser is not given another, and the token stays.
    let again = browser.get("/login").await;
    assert!(set_cookies(&again).is_empty(), "{:?}", set_cookies(&again));
    assert_eq!(csrf_token_in(&body(again).await), token);

    // Another browser's token does not go with this browser's cookie.
    let other = Browser::new(&app, "acme.localhost");
    let other_token = other.csrf_token("/login").await;
    assert_ne!(other_token, token);
    let refused = browser
        .post(
            "/login",
            &[
                ("email", "a@acme.test"),
                ("password", "whatever password"),
                ("csrf_token", other_token.as_str()),
            ],
        )
        .await;
    refused.assert_status(StatusCode::FORBIDDEN);
    // Without the cookie, no token is good.
    let cookieless = app
        .public
        .post("/login")
        .header("host", "acme.localhost")
        .form(&[
            ("email", "a@acme.test"),
            ("password", "x"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await;
    cookieless.assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pages_without_a_form_set_no_cookie() {
    let app = spawn_app().await;
    app.create_firm("acme", "ACME Corporation").await;
    let stylesheet = app.get("acme.localhost", "/static/latchkey.css").await;
    stylesheet.assert_status_is_ok();
    assert!(set_cookies(&stylesheet).is_empty());
}

#[tokio::test]
async fn over_https_the_cookie_is_host_only_and_secure() {
    let app = spawn_app_with(&[
        ("LATCHKEY__SERVER__PUBLIC_SCHEME", "https"),
        ("LATCHKEY__SERVER__TRUSTED_PROXIES", "10.0.0.0/8"),
    ])
    .await;
    app.create_firm("acme", "ACME Corporation").await;
    let page = app.get("acme.localhost", "/login").await;
    let cookies = set_cookies(&page);
    let csrf_cookie = cookies
        .iter()
        .find(|cookie| cookie.starts_with("__Host-latchkey_csrf="))
        .expect("a __Host- CSRF cookie");
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    // A cookie planted without the prefix (by a sibling subdomain) is not read.
    let browser = Browser::new(&app, "acme.localhost");
    let token = csrf_token_in(&body(page).await);
    let planted = csrf_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-")
        .to_owned();
    let (name, value) = planted.split_once('=').unwrap();
    browser.set_cookie(name, value);
    browser
        .post(
            "/login",
            &[
                ("email", "a@acme.test"),
                ("password", "x"),
                ("csrf_token", token.as_str()),
            ],
        )
        .await
        .assert_status(StatusCode::FORBIDDEN);
}
