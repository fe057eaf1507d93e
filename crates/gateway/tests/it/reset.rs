//! The emailed link: opening it, the pages for each state, and using it.

use chrono::{Duration, Utc};
use identity::StaffRole;
use poem::http::StatusCode;
use reset_token::{MintedToken, TokenPurpose};

use crate::fixture::{CONTACT_PASSWORD, Firm, NEW_PASSWORD, app_with_firm};
use crate::helpers::{Browser, TestApp, body, join_all, location};

/// The firm's contact's password before any reset.
const OLD_PASSWORD: &str = CONTACT_PASSWORD;

async fn sign_in(browser: &Browser<'_>, password: &str) -> String {
    let response = browser
        .sign_in_contact("body.boom@acme.test", password)
        .await;
    location(&response)
}

/// A browser that has opened a fresh reset link of the firm's contact.
async fn opened_link<'a>(app: &'a TestApp, firm: &Firm) -> (Browser<'a>, MintedToken) {
    let minted = app.mint_reset_link(&firm.contact, Utc::now()).await;
    let browser = firm.browser(app);
    browser.open_minted(&minted).await;
    (browser, minted)
}

fn assert_token_headers(response: &poem::test::TestResponse) {
    let headers = response.0.headers();
    assert_eq!(headers.get("referrer-policy").unwrap(), "no-referrer");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
}

#[tokio::test]
async fn the_link_moves_the_token_out_of_the_address_bar_and_consumes_nothing() {
    let (app, acme) = app_with_firm("acme").await;
    let contact = &acme.contact;
    let minted = app.mint_reset_link(contact, Utc::now()).await;
    let browser = acme.browser(&app);
    let opened = browser.open_minted(&minted).await;
    opened.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(location(&opened), "/reset");
    assert_token_headers(&opened);
    for _ in 0..3 {
        let page = browser.get("/reset").await;
        page.assert_status_is_ok();
        page.assert_content_type("text/html; charset=utf-8");
        assert_token_headers(&page);
        let html = body(page).await;
        assert!(
            html.contains("Reset Password")
                && html.contains("new_password")
                && html.contains("confirm_password")
        );
        assert!(
            !html.contains(&minted.token.expose()),
            "the token is not in the page"
        );
    }
}

#[tokio::test]
async fn a_new_password_through_the_link_ends_sessions_and_old_password() {
    let (app, acme) = app_with_firm("acme").await;
    let signed_in = acme.browser(&app);
    assert_eq!(sign_in(&signed_in, OLD_PASSWORD).await, "/");

    let (browser, minted) = opened_link(&app, &acme).await;
    let weak = browser.choose_password("password1").await;
    weak.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(weak).await.contains("too common"));

    let done = browser.choose_password(NEW_PASSWORD).await;
    done.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/login?notice=password-changed");
    assert!(
        browser.cookie("latchkey_session").is_none(),
        "the link never signs anyone in"
    );
    assert!(
        browser
            .text("/login?notice=password-changed")
            .await
            .contains("Your password was changed")
    );

    assert_eq!(
        signed_in.redirect_of("/").await,
        "/login",
        "the old session ended"
    );
    let fresh = acme.browser(&app);
    assert_ne!(sign_in(&fresh, OLD_PASSWORD).await, "/");
    assert_eq!(sign_in(&fresh, NEW_PASSWORD).await, "/");

    // The same link again: used once, never twice.
    let again = acme.browser(&app);
    again.open_minted(&minted).await;
    let used = again.get("/reset").await;
    used.assert_status(StatusCode::GONE);
    assert!(body(used).await.contains("can be used only once"));
}

#[tokio::test]
async fn an_expired_link_offers_a_new_one() {
    let (app, acme) = app_with_firm("acme").await;
    let contact = &acme.contact;
    let minted = app
        .mint_reset_link(contact, Utc::now() - Duration::minutes(16))
        .await;
    let browser = acme.browser(&app);
    browser.open_minted(&minted).await;
    let page = browser.get("/reset").await;
    page.assert_status(StatusCode::GONE);
    page.assert_content_type("text/html; charset=utf-8");
    let html = body(page).await;
    assert!(
        html.contains("This link has expired")
            && html.contains("href=\"/forgot-password\"")
            && html.contains("Reset Password")
    );
    let post = browser
        .submit_with_token_from(
            "/reset",
            &[
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    post.assert_status(StatusCode::GONE);
}

#[tokio::test]
async fn forged_superseded_and_foreign_links_look_like_links_that_never_existed() {
    let (app, acme) = app_with_firm("acme").await;
    let contact = &acme.contact;
    let globex_contact = app.firm("globex").await.contact;
    let superseded = app.mint_reset_link(contact, Utc::now()).await;
    app.mint_reset_link(contact, Utc::now()).await;
    let foreign = app.mint_reset_link(&globex_contact, Utc::now()).await;
    let text = superseded.token.expose();
    let forged = format!("{}.{}", text.split_once('.').unwrap().0, "A".repeat(43));
    let never = format!("{}.{}", "A".repeat(22), "A".repeat(43));

    let mut pages = Vec::new();
    for token in [
        superseded.token.expose(),
        foreign.token.expose(),
        forged,
        never,
        "garbage".to_owned(),
    ] {
        let browser = acme.browser(&app);
        browser.get(&format!("/reset/{token}")).await;
        let page = browser.get("/reset").await;
        page.assert_status(StatusCode::NOT_FOUND);
        page.assert_content_type("text/html; charset=utf-8");
        pages.push(body(page).await);
    }
    assert!(pages[0].contains("This link is not valid"));
    assert!(
        pages.iter().all(|page| page == &pages[0]),
        "all invalid links read the same"
    );
}

#[tokio::test]
async fn of_fifty_concurrent_posts_of_one_link_exactly_one_succeeds() {
    let (app, acme) = app_with_firm("acme").await;
    let (browser, _) = opened_link(&app, &acme).await;
    let form = browser.text("/reset").await;
    let hidden = crate::helpers::hidden_fields_in(&form);
    let mut fields = vec![
        ("new_password", NEW_PASSWORD),
        ("confirm_password", NEW_PASSWORD),
    ];
    fields.extend(
        hidden
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    let posts = (0..50).map(|_| browser.post("/reset", &fields));
    let statuses: Vec<StatusCode> = futures_all(posts).await;
    let successes = statuses
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(successes, 1, "{statuses:?}");
}

async fn futures_all<F: std::future::Future<Output = poem::test::TestResponse>>(
    futures: impl Iterator<Item = F>,
) -> Vec<StatusCode> {
    let handles: Vec<_> = futures.collect();
    let mut statuses = Vec::new();
    // Polled together on one task: the handlers interleave at every await.
    let joined = join_all(handles).await;
    for response in joined {
        statuses.push(response.0.status());
    }
    statuses
}

#[tokio::test]
async fn staff_see_the_links_history_on_the_contacts_page() {
    let (app, acme) = app_with_firm("acme").await;
    let contact = &acme.contact;
    let staff_email = app.add_staff(&acme, StaffRole::Staff).await;
    let (browser, minted) = opened_link(&app, &acme).await;
    // Reloads (and mail scanners) write nothing more: one entry per state.
    for _ in 0..3 {
        browser.page("/reset", StatusCode::OK).await;
    }
    browser
        .choose_password(NEW_PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    browser.open_minted(&minted).await;
    for _ in 0..2 {
        browser.page("/reset", StatusCode::GONE).await;
    }

    let staff = app.staff_browser("acme.localhost", &staff_email).await;
    let history = format!("{}/{}", acme.contacts_page(), contact.id);
    let html = staff.page(&history, StatusCode::OK).await;
    for entry in [
        "Reset link opened",
        "Reset link used",
        "Password changed",
        "Used link opened again",
    ] {
        assert_eq!(html.matches(entry).count(), 1, "{entry} once in {html}");
    }
    let newest = html.find("Used link opened again").unwrap();
    assert!(
        newest < html.find("Reset link used").unwrap(),
        "newest first"
    );
}

/// Opens `minted`'s link in a fresh browser and tells what the page says.
async fn link_status(app: &TestApp, minted: &MintedToken) -> StatusCode {
    let browser = Browser::new(app, "acme.localhost");
    browser.open_minted(minted).await;
    browser.get("/reset").await.0.status()
}

/// An administrator edits `contact` through the form, changing only what is given.
async fn edit_contact(
    admin: &Browser<'_>,
    contact: &identity::Contact,
    email: &str,
    status: &str,
) -> poem::test::TestResponse {
    let page = format!(
        "/staff/clients/{}/contacts/{}/edit",
        contact.client_id, contact.id
    );
    let mut fields = vec![("name", "Body Boom"), ("email", email), ("locale", "en")];
    if !status.is_empty() {
        fields.push(("status", status));
    }
    admin.fill_in(&page, &fields).await
}

#[tokio::test]
async fn an_email_change_or_a_disable_ends_the_accounts_links_and_sessions() {
    let (app, acme) = app_with_firm("acme").await;
    let contact = &acme.contact;
    let admin = app.signed_in_staff(&acme, StaffRole::Admin).await;

    // A rename alone leaves the link and the session alone.
    let signed_in = acme.browser(&app);
    assert_eq!(sign_in(&signed_in, OLD_PASSWORD).await, "/");
    let kept = app.mint_reset_link(contact, Utc::now()).await;
    edit_contact(&admin, contact, "body.boom@acme.test", "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(link_status(&app, &kept).await, StatusCode::OK);
    signed_in.page("/", StatusCode::OK).await;

    // The link sent to the old address stops working, and so does the session.
    edit_contact(&admin, contact, "b.boom@acme.test", "")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(link_status(&app, &kept).await, StatusCode::NOT_FOUND);
    let ended = signed_in.get("/").await;
    ended.assert_status(StatusCode::SEE_OTHER);
    assert!(location(&ended).starts_with("/login"));

    // A disable ends them too; so does a re-enable, for links sent while disabled.
    for (status, change) in [("disabled", "a disable"), ("", "a re-enable")] {
        let link = app.mint_reset_link(contact, Utc::now()).await;
        edit_contact(&admin, contact, "b.boom@acme.test", status)
            .await
            .assert_status(StatusCode::SEE_OTHER);
        let opened = link_status(&app, &link).await;
        assert_eq!(opened, StatusCode::NOT_FOUND, "a link from before {change}");
    }
}

/// Presenting made-up links to either form is guessing: both count against the
/// client address, and past the limit answer 429 with a Retry-After.
#[tokio::test]
async fn guessing_at_links_is_limited_per_address_on_both_forms() {
    let app =
        crate::helpers::spawn_app_with(&[("LATCHKEY__LIMITS__SIGN_IN_PER_ADDRESS", "3")]).await;
    app.firm("acme").await;
    // The limit is the address's, so each form is tried from a machine of its own.
    for (action, address) in [
        ("/reset/temporary", "198.51.100.30"),
        ("/reset", "198.51.100.31"),
    ] {
        let guesser = Browser::from_address(&app, "acme.localhost", address);
        let fields: &[(&str, &str)] = &[
            ("new_password", NEW_PASSWORD),
            ("confirm_password", NEW_PASSWORD),
        ];
        let mut statuses = Vec::new();
        for guess in 0..4 {
            let token = format!("{}.{guess:A>43}", "A".repeat(22));
            guesser.set_cookie("latchkey_reset", &token);
            let response = guesser.submit_with_token_from(action, fields).await;
            if response.0.status() == StatusCode::TOO_MANY_REQUESTS {
                assert!(response.0.headers().contains_key("retry-after"));
            }
            statuses.push(response.0.status());
        }
        assert_eq!(
            statuses,
            [
                StatusCode::NOT_FOUND,
                StatusCode::NOT_FOUND,
                StatusCode::NOT_FOUND,
                StatusCode::TOO_MANY_REQUESTS
            ],
            "{action}"
        );
    }
}

/// One cookie per host holds the newest link: a tab left open on an older link must
/// not change the newer link's account, and every form says whose account it is.
#[tokio::test]
async fn a_form_changes_only_the_account_of_the_link_it_was_shown_for() {
    let (app, acme) = app_with_firm("acme").await;
    let (firm, first) = (&acme.tenant, &acme.contact);
    let client = app.create_client(firm, "Wayne Enterprises").await;
    let second = app
        .create_contact(firm, &client, "Second", "second@acme.test", OLD_PASSWORD)
        .await;
    let first_link = app.mint_reset_link(first, Utc::now()).await;
    let second_link = app.mint_reset_link(&second, Utc::now()).await;
    let browser = acme.browser(&app);
    browser.open_minted(&first_link).await;
    let first_form = browser.text("/reset").await;
    assert!(first_form.contains("body.boom@acme.test"), "{first_form}");
    browser.open_minted(&second_link).await;
    let second_form = browser.text("/reset").await;
    assert!(second_form.contains("second@acme.test"));

    let post_form = |form: String| {
        let browser = &browser;
        async move {
            let mut fields: Vec<(String, String)> = crate::helpers::hidden_fields_in(&form);
            fields.push(("new_password".into(), NEW_PASSWORD.into()));
            fields.push(("confirm_password".into(), NEW_PASSWORD.into()));
            let fields: Vec<(&str, &str)> = fields
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            browser.post("/reset", &fields).await
        }
    };
    let stale = post_form(first_form.clone()).await;
    stale.assert_status(StatusCode::CONFLICT);
    assert!(body(stale).await.contains("Another reset link was opened"));
    let contact = identity::find_contact(&app.state.services.db, firm.id, second.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        contact.password_hash, second.password_hash,
        "nothing changed"
    );

    let done = post_form(second_form).await;
    done.assert_status(StatusCode::SEE_OTHER);
    let changed = identity::find_contact(&app.state.services.db, firm.id, second.id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(changed.password_hash, second.password_hash);
    let untouched = identity::find_contact(&app.state.services.db, firm.id, first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(untouched.password_hash, first.password_hash);

    // Without the cookie (another browser, cleared cookies) the form asks for the
    // email again rather than calling a live link "not valid".
    let other = acme.browser(&app);
    let cookieless = other
        .submit_with_token_from(
            "/reset",
            &[
                ("link", &first_link.record.id.to_string()),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    cookieless.assert_status(StatusCode::BAD_REQUEST);
    assert!(
        body(cookieless)
            .await
            .contains("Open the link from your email again")
    );
}

/// The cookie holding the token lives as long as the token, not a fixed hour.
#[tokio::test]
async fn the_token_cookie_lives_as_long_as_the_link() {
    let (app, acme) = app_with_firm("acme").await;
    let contact = &acme.contact;
    let invitation = app
        .mint_link(
            contact,
            TokenPurpose::Invite,
            Duration::hours(72),
            Utc::now(),
        )
        .await;
    let browser = acme.browser(&app);
    let opened = browser.open_minted(&invitation).await;
    let set_cookie = opened.0.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!set_cookie.contains("Max-Age"), "{set_cookie}");
    let page = browser.get("/reset").await;
    page.assert_status_is_ok();
    let set_cookie = page
        .0
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("latchkey_reset="))
        .expect("the token cookie is given its lifetime");
    let max_age: u64 = set_cookie
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (72 * 3600 - 60..=72 * 3600).contains(&max_age),
        "{set_cookie}"
    );
}

/// Decided: a firm that disables a client locks its contacts out. Their sessions and
/// links end, they cannot sign in, staff cannot send them a reset, and "Forgot your
/// password?" sends them nothing, until the client is enabled again.
#[tokio::test]
async fn a_disabled_clients_contacts_are_locked_out_until_it_is_enabled() {
    let (app, acme) = app_with_firm("acme").await;
    let contact = &acme.contact;
    let admin = app.signed_in_staff(&acme, StaffRole::Admin).await;
    let set_status = |status: &'static str| {
        let admin = &admin;
        let page = format!("/staff/clients/{}/edit", contact.client_id);
        async move {
            admin
                .fill_in(&page, &[("name", "John A. Teague"), ("status", status)])
                .await
        }
    };
    let signed_in = acme.browser(&app);
    assert_eq!(sign_in(&signed_in, OLD_PASSWORD).await, "/");
    let link = app.mint_reset_link(contact, Utc::now()).await;

    set_status("disabled")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    signed_in.page("/", StatusCode::SEE_OTHER).await;
    assert_eq!(link_status(&app, &link).await, StatusCode::NOT_FOUND);
    let refused = acme.browser(&app);
    assert_eq!(sign_in(&refused, OLD_PASSWORD).await, "", "not signed in");
    let reset = admin.press_reset(contact).await;
    reset.assert_status(StatusCode::CONFLICT);
    assert!(body(reset).await.contains("This client is disabled"));
    let forgot = acme.browser(&app);
    forgot
        .forgot_password("body.boom@acme.test")
        .await
        .assert_status_is_ok();
    app.process_reset_requests().await;
    let sent = app.queued_emails().await;
    assert!(sent.is_empty(), "no reset email: {sent:?}");
    let while_disabled = app.mint_reset_link(contact, Utc::now()).await;

    set_status("active")
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(
        link_status(&app, &while_disabled).await,
        StatusCode::NOT_FOUND,
        "links sent while disabled end when it is enabled"
    );
    let back = acme.browser(&app);
    assert_eq!(sign_in(&back, OLD_PASSWORD).await, "/");
}
