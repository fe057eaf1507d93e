//! Forms carry a token that only a page of ours could have given: the MAC of a
//! cookie the browser holds.

use poem::http::StatusCode;
use poem::test::TestResponse;

use crate::fixture::app_with_acme;
use crate::helpers::{Browser, body, csrf_token_in, spawn_https_app};

fn set_cookies(response: &TestResponse) -> Vec<String> {
    response
        .0
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .collect()
}

/// A contact's sign-in form as posted with `token`, whatever page gave it.
fn sign_in_fields<'a>(password: &'a str, token: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("email", "a@acme.test"),
        ("password", password),
        ("csrf_token", token),
    ]
}

async fn sign_in_with(browser: &Browser<'_>, password: &str, token: &str) -> TestResponse {
    browser
        .post("/login", &sign_in_fields(password, token))
        .await
}

#[tokio::test]
async fn a_browser_gets_one_cookie_and_tokens_bound_to_it() {
    let (app, _) = app_with_acme().await;
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
    let refused = sign_in_with(&browser, "whatever password", &other_token).await;
    refused.assert_status(StatusCode::FORBIDDEN);
    // Without the cookie, no token is good.
    let cookieless = app
        .public
        .post("/login")
        .header("host", "acme.localhost")
        .form(&sign_in_fields("x", &token))
        .send()
        .await;
    cookieless.assert_status(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pages_without_a_form_set_no_cookie() {
    let (app, _) = app_with_acme().await;
    let stylesheet = app.get("acme.localhost", "/static/latchkey.css").await;
    stylesheet.assert_status_is_ok();
    assert!(set_cookies(&stylesheet).is_empty());
}

#[tokio::test]
async fn over_https_the_cookie_is_host_only_and_secure() {
    let app = spawn_https_app().await;
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
    sign_in_with(&browser, "x", &token)
        .await
        .assert_status(StatusCode::FORBIDDEN);
}
