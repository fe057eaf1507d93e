//! The staff portal and the contact's sign-in, as a person walks through them.

use identity::StaffRole;
use poem::http::StatusCode;
use poem::test::TestResponse;

use crate::fixture::{CONTACT_PASSWORD, STAFF_PASSWORD, app_with_admin};
use crate::helpers::{Browser, body, join_all, location, spawn_app_with};

/// Fills in the staff's new-contact form at `form` with a name, email and locale.
async fn add_contact(browser: &Browser<'_>, form: &str, fields: [&str; 3]) -> TestResponse {
    let [name, email, locale] = fields;
    let fields = [("name", name), ("email", email), ("locale", locale)];
    browser.fill_in(form, &fields).await
}

#[tokio::test]
async fn staff_walk_from_sign_in_to_the_reset_password_buttons() {
    let (app, acme) = app_with_admin("acme").await;
    let client = &acme.client;
    let browser = acme.browser(&app);

    let html = browser.page("/staff/login", StatusCode::OK).await;
    assert!(
        html.contains("Sign in") && html.contains("acme firm"),
        "{html}"
    );

    let response = browser
        .sign_in_staff("Admin@Acme.test ", STAFF_PASSWORD)
        .await;
    response.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/staff/workspaces");
    let cookie = browser.cookie("latchkey_staff").expect("a session cookie");
    assert_eq!(cookie.len(), 64);

    let workspaces = browser.text("/staff/workspaces").await;
    for text in ["All workspaces", "Client Settings", "John A. Teague"] {
        assert!(workspaces.contains(text), "{text} in {workspaces}");
    }
    let clients = browser.text("/staff/clients").await;
    assert!(clients.contains("All Firm Clients"));
    assert!(clients.contains(&format!("/staff/clients/{}/contacts", client.id)));
    let contacts = browser.page(&acme.contacts_page(), StatusCode::OK).await;
    for text in [
        "Contacts",
        "Body Boom",
        "body.boom@acme.test",
        "Reset Password",
        "Never",
    ] {
        assert!(contacts.contains(text), "{text} in {contacts}");
    }
    assert!(contacts.contains(&format!("/staff/clients/{}/contacts/", client.id)));
}

#[tokio::test]
async fn the_session_cookie_is_host_only_and_http_only() {
    let (app, acme) = app_with_admin("acme").await;
    let browser = acme.browser(&app);
    let token = browser.csrf_token("/staff/login").await;
    let response = browser
        .post(
            "/staff/login",
            &[
                ("email", "admin@acme.test"),
                ("password", STAFF_PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    let set_cookie: Vec<String> = response
        .0
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .filter(|v| v.starts_with("latchkey_staff="))
        .collect();
    assert_eq!(set_cookie.len(), 1, "{set_cookie:?}");
    let cookie = &set_cookie[0];
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.to_lowercase().contains("domain="),
        "never Domain=: {cookie}"
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let (app, acme) = app_with_admin("acme").await;
    let browser = acme.browser(&app);
    let wrong = browser
        .sign_in_staff("admin@acme.test", "not the password")
        .await;
    wrong.assert_status_is_ok();
    let wrong = body(wrong).await;
    let unknown = browser
        .sign_in_staff("nobody@acme.test", "not the password")
        .await;
    unknown.assert_status_is_ok();
    let unknown = body(unknown).await;
    assert!(wrong.contains("Email or password is incorrect"));
    assert!(unknown.contains("Email or password is incorrect"));
    assert!(browser.cookie("latchkey_staff").is_none());
    browser
        .page("/staff/workspaces", StatusCode::SEE_OTHER)
        .await;
}

#[tokio::test]
async fn signed_out_staff_are_sent_to_sign_in() {
    let (app, acme) = app_with_admin("acme").await;
    let client = &acme.client;
    let browser = acme.browser(&app);
    for path in [
        "/staff/workspaces".to_owned(),
        "/staff/clients".to_owned(),
        format!("/staff/clients/{}/contacts", client.id),
    ] {
        let response = browser.get(&path).await;
        response.assert_status(StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/staff/login");
    }
    browser.set_cookie("latchkey_staff", &"a".repeat(64));
    let response = browser.get("/staff/workspaces").await;
    assert_eq!(
        location(&response),
        "/staff/login",
        "a forged session is no session"
    );
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let (app, acme) = app_with_admin("acme").await;
    let browser = acme.browser(&app);
    browser.get("/staff/login").await;
    let fields = [("email", "admin@acme.test"), ("password", STAFF_PASSWORD)];
    let response = browser.post("/staff/login", &fields).await;
    response.assert_status(StatusCode::FORBIDDEN);
    assert!(body(response).await.contains("This form has expired"));
    let response = browser
        .post(
            "/staff/login",
            &[
                ("email", "admin@acme.test"),
                ("password", STAFF_PASSWORD),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    response.assert_status(StatusCode::FORBIDDEN);
    assert!(browser.cookie("latchkey_staff").is_none());
}

#[tokio::test]
async fn repeated_failures_are_limited_per_email_with_retry_after() {
    let (app, acme) = app_with_admin("acme").await;
    let browser = acme.browser(&app);
    for _ in 0..5 {
        browser
            .sign_in_staff("admin@acme.test", "wrong password")
            .await
            .assert_status_is_ok();
    }
    let limited = browser
        .sign_in_staff("admin@acme.test", STAFF_PASSWORD)
        .await;
    limited.assert_status(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited
        .0
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The window slides: failures weigh until they are a window old, so the wait is
    // at most two windows (15 minutes each), never zero.
    assert!((1..=2 * 900).contains(&retry_after), "{retry_after}");
    assert!(body(limited).await.contains("Too many attempts"));
    // The limit is per email: the contact of the same firm is not affected.
    browser
        .sign_in_contact("body.boom@acme.test", CONTACT_PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_limit_holds_in_the_database_not_in_one_process() {
    let (app, acme) = app_with_admin("acme").await;
    // The in-process client has no address: its failures count as `unknown`'s.
    let bucket = format!(
        "sign-in:pair:{}:staff:admin@acme.test:unknown",
        acme.tenant.id
    );
    // Five failures counted by another instance: only the database knows.
    let window = chrono::Duration::minutes(15);
    identity::hit_buckets(
        app.db(),
        &[(bucket.as_str(), 5)],
        window,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let refused = acme
        .browser(&app)
        .sign_in_staff("admin@acme.test", STAFF_PASSWORD)
        .await;
    refused.assert_status(StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn another_firms_session_is_signed_out_and_its_ids_do_not_exist() {
    let (app, acme) = app_with_admin("acme").await;
    app.firm_with_admin("globex").await;

    let (acme_client, acme_contact) = (&acme.client, &acme.contact);
    let acme = acme.browser(&app);
    acme.sign_in_staff("admin@acme.test", STAFF_PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let stolen = acme.cookie("latchkey_staff").unwrap();

    let globex = Browser::new(&app, "globex.localhost");
    globex.set_cookie("latchkey_staff", &stolen);
    let response = globex.get("/staff/workspaces").await;
    response.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/staff/login");

    let globex = Browser::new(&app, "globex.localhost");
    globex
        .sign_in_staff("admin@globex.test", STAFF_PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let missing = uuid::Uuid::now_v7();
    let foreign = globex
        .get(&format!("/staff/clients/{}/contacts", acme_client.id))
        .await;
    let absent = globex
        .get(&format!("/staff/clients/{missing}/contacts"))
        .await;
    foreign.assert_status(StatusCode::NOT_FOUND);
    absent.assert_status(StatusCode::NOT_FOUND);
    let (foreign, absent) = (body(foreign).await, body(absent).await);
    let strip = |html: &str| {
        html.lines()
            .filter(|l| !l.contains("Reference:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&foreign),
        strip(&absent),
        "another firm's id reads exactly like a missing one"
    );
    let edit = format!(
        "/staff/clients/{}/contacts/{}/edit",
        acme_client.id, acme_contact.id
    );
    for path in [edit.as_str(), "/staff/clients/not-a-uuid/contacts"] {
        globex.page(path, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn admins_add_clients_and_contacts_with_validation() {
    let (app, acme) = app_with_admin("acme").await;
    let browser = app.staff_browser(&acme.host(), "admin@acme.test").await;

    let empty = browser
        .fill_in("/staff/clients/new", &[("name", "   ")])
        .await;
    empty.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let created = browser
        .fill_in("/staff/clients/new", &[("name", "Wayne <Enterprises>")])
        .await;
    created.assert_status(StatusCode::SEE_OTHER);
    let contacts_page = location(&created);
    let client_path = contacts_page.trim_end_matches("/contacts").to_owned();
    assert!(
        browser
            .text(&contacts_page)
            .await
            .contains("Wayne &lt;Enterprises&gt;")
    );

    let new_contact = format!("{client_path}/contacts/new");
    // ".a@example.com" passed a lax parser but not lettre, which sends our email.
    for address in ["not-an-email", ".a@example.com", "a..b@example.com"] {
        let bad = add_contact(&browser, &new_contact, ["Bruce", address, "en"]).await;
        bad.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body(bad).await.contains("Enter an email address"),
            "{address}"
        );
    }
    let fields = ["Bruce Wayne", "Bruce@Wayne.test", "it"];
    let good = add_contact(&browser, &new_contact, fields).await;
    good.assert_status(StatusCode::SEE_OTHER);
    let listed = browser.text(&contacts_page).await;
    assert!(
        listed.contains("bruce@wayne.test") && listed.contains("invited"),
        "{listed}"
    );
    let fields = ["Other", "bruce@wayne.test", "en"];
    let duplicate = add_contact(&browser, &new_contact, fields).await;
    duplicate.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(duplicate).await.contains("already exists"));
}

#[tokio::test]
async fn plain_staff_cannot_use_admin_forms() {
    let (app, acme) = app_with_admin("acme").await;
    app.create_staff(
        &acme.tenant,
        "clerk@acme.test",
        STAFF_PASSWORD,
        StaffRole::Staff,
    )
    .await;
    let browser = acme.browser(&app);
    browser
        .sign_in_staff("clerk@acme.test", STAFF_PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    browser.page("/staff/workspaces", StatusCode::OK).await;
    browser
        .page("/staff/clients/new", StatusCode::FORBIDDEN)
        .await;
    browser.page("/staff/team", StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn clients_are_searched_and_paged() {
    let (app, acme) = app_with_admin("acme").await;
    for index in 0..120 {
        app.create_client(&acme.tenant, &format!("Client {index:03}"))
            .await;
    }
    let browser = acme.browser(&app);
    browser
        .sign_in_staff("admin@acme.test", STAFF_PASSWORD)
        .await;
    let first = browser.text("/staff/clients").await;
    assert!(first.contains("Page 1 of 3"), "{first}");
    assert!(first.contains("121 clients"));
    let third = browser.text("/staff/clients?page=3").await;
    assert!(third.contains("John A. Teague"));
    // Past the end, even past what the offset could hold: the last page.
    let beyond = browser
        .text("/staff/clients?page=18446744073709551615")
        .await;
    assert!(beyond.contains("Page 3 of 3") && beyond.contains("John A. Teague"));
    for nonsense in ["18446744073709551616", "-1", "two"] {
        browser
            .page(
                &format!("/staff/clients?page={nonsense}"),
                StatusCode::BAD_REQUEST,
            )
            .await;
    }
    let found = browser.text("/staff/clients?q=client%2011").await;
    assert!(
        found.contains("Client 110")
            && found.contains("Client 119")
            && !found.contains("Client 120")
    );
    let percent = browser.text("/staff/clients?q=%25").await;
    assert!(
        percent.contains("0 clients"),
        "a % matches itself, not everything"
    );
}

#[tokio::test]
async fn contacts_sign_in_and_see_their_portal() {
    let (app, acme) = app_with_admin("acme").await;
    let browser = acme.browser(&app);
    let response = browser.get("/").await;
    assert_eq!(location(&response), "/login");
    let login = browser.text("/login").await;
    for text in [
        "Sign in",
        "Forgot your password?",
        "Request your credential",
    ] {
        assert!(login.contains(text), "{text}");
    }
    let refused = browser
        .sign_in_contact("body.boom@acme.test", "nope nope nope")
        .await;
    assert!(
        body(refused)
            .await
            .contains("Email or password is incorrect")
    );
    let response = browser
        .sign_in_contact("BODY.BOOM@acme.test", CONTACT_PASSWORD)
        .await;
    assert_eq!(location(&response), "/");
    let home = browser.text("/").await;
    assert!(
        home.contains("Welcome, Body Boom") && home.contains("John A. Teague"),
        "{home}"
    );
    // A contact session is not a staff session.
    assert_eq!(
        browser.redirect_of("/staff/workspaces").await,
        "/staff/login"
    );

    let token = browser.csrf_token("/").await;
    browser
        .post("/logout", &[("csrf_token", &token)])
        .await
        .assert_status(StatusCode::SEE_OTHER);
    assert_eq!(browser.redirect_of("/").await, "/login");
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions() {
    let (app, firm) = app_with_admin("acme").await;
    let contact = &firm.contact;
    identity::set_contact_password(
        &app.state.services.db,
        firm.tenant.id,
        contact.id,
        app.state
            .services
            .hasher
            .hash(CONTACT_PASSWORD)
            .await
            .unwrap(),
        true,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let laptop = firm.browser(&app);
    let phone = firm.browser(&app);
    for browser in [&laptop, &phone] {
        let response = browser
            .sign_in_contact("body.boom@acme.test", CONTACT_PASSWORD)
            .await;
        assert_eq!(
            location(&response),
            "/account/password",
            "must change first"
        );
    }
    assert_eq!(laptop.redirect_of("/").await, "/account/password");

    let weak = laptop
        .fill_in(
            "/account/password",
            &[
                ("password", CONTACT_PASSWORD),
                ("new_password", "password1"),
                ("confirm_password", "password1"),
            ],
        )
        .await;
    weak.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(weak).await.contains("too common"));

    let changed = laptop
        .fill_in(
            "/account/password",
            &[
                ("password", CONTACT_PASSWORD),
                ("new_password", "a much better passphrase"),
                ("confirm_password", "a much better passphrase"),
            ],
        )
        .await;
    assert_eq!(location(&changed), "/?notice=password-updated");
    assert!(laptop.text("/").await.contains("Welcome, Body Boom"));
    assert_eq!(
        phone.redirect_of("/").await,
        "/login",
        "the other session ended"
    );
}

#[tokio::test]
async fn a_flood_of_sign_ins_leaves_health_and_pages_responsive() {
    // Real argon2 cost and two hashing slots, as in production on this machine.
    let app = std::sync::Arc::new(
        spawn_app_with(&[
            ("LATCHKEY__PASSWORD__ARGON2_M_KIB", "19456"),
            ("LATCHKEY__PASSWORD__ARGON2_T", "2"),
            ("LATCHKEY__PASSWORD__HASH_CONCURRENCY", "2"),
            ("LATCHKEY__LIMITS__SIGN_IN_PER_ADDRESS", "1000"),
            ("LATCHKEY__LIMITS__SIGN_IN_PER_EMAIL", "1000"),
        ])
        .await,
    );
    let acme = app.firm_with_admin("acme").await;
    let csrf_cookie = {
        let browser = acme.browser(&app);
        let html = browser.text("/staff/login").await;
        (
            browser.cookie("latchkey_csrf").unwrap(),
            crate::helpers::csrf_token_in(&html),
        )
    };
    // One sign-in costs one password hash: the unit the flood is measured in.
    let mut sign_ins = Vec::new();
    for _ in 0..5 {
        let browser = acme.browser(&app);
        let started = std::time::Instant::now();
        browser
            .sign_in_staff("admin@acme.test", "some wrong password")
            .await
            .assert_status_is_ok();
        sign_ins.push(started.elapsed());
    }
    sign_ins.sort();
    let one_sign_in = sign_ins[sign_ins.len() / 2];
    let flood: Vec<_> = (0..100)
        .map(|i| {
            let app = app.clone();
            let (cookie, token) = csrf_cookie.clone();
            tokio::spawn(async move {
                let email = format!("user{i}@acme.test");
                let fields = [
                    ("email", email.as_str()),
                    ("password", "some wrong password"),
                    ("csrf_token", token.as_str()),
                ];
                app.public
                    .post("/staff/login")
                    .header("host", "acme.localhost")
                    .header("cookie", format!("latchkey_csrf={cookie}"))
                    .form(&fields)
                    .send()
                    .await
                    .0
                    .status()
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut slowest = std::time::Duration::ZERO;
    for _ in 0..10 {
        let started = std::time::Instant::now();
        app.admin.get("/healthz").send().await.assert_status_is_ok();
        app.page("acme.localhost", "/login", StatusCode::OK).await;
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut statuses = Vec::new();
    for request in flood {
        statuses.push(request.await.unwrap());
    }
    // A page that queued behind the hashes would wait for dozens of them (a hundred
    // sign-ins share two slots); one that only shares the processor with them takes
    // a fraction of one. Both sides scale with the machine's speed and load, so the
    // bound holds on a slow or busy machine where a fixed budget would not.
    assert!(
        slowest < one_sign_in * 5,
        "health and pages took {slowest:?} during the flood; one sign-in {one_sign_in:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
}

/// OWASP: a stranger's wrong guesses from elsewhere never lock the owner out.
#[tokio::test]
async fn failures_lock_out_the_guessing_address_not_the_account() {
    let (app, acme) = app_with_admin("acme").await;
    let stranger = Browser::from_address(&app, &acme.host(), "198.51.100.7");
    for _ in 0..5 {
        stranger
            .sign_in_staff("admin@acme.test", "wrong password")
            .await
            .assert_status_is_ok();
    }
    stranger
        .sign_in_staff("admin@acme.test", STAFF_PASSWORD)
        .await
        .assert_status(StatusCode::TOO_MANY_REQUESTS);
    // Another machine of the stranger's /64 is the same client; IPv4 is per address.
    let owner = Browser::from_address(&app, &acme.host(), "203.0.113.20");
    let signed_in = owner.sign_in_staff("admin@acme.test", STAFF_PASSWORD).await;
    signed_in.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(location(&signed_in), "/staff/workspaces");
}

#[tokio::test]
async fn an_ipv6_client_is_limited_by_its_64() {
    let (app, acme) = app_with_admin("acme").await;
    for host_part in 1..=5 {
        Browser::from_address(
            &app,
            "acme.localhost",
            &format!("2001:db8:7:7::{host_part}"),
        )
        .sign_in_staff("admin@acme.test", "wrong password")
        .await
        .assert_status_is_ok();
    }
    // The same /64 is refused; the next one is not.
    for (ip, status) in [
        ("2001:db8:7:7:ffff::1", StatusCode::TOO_MANY_REQUESTS),
        ("2001:db8:7:8::1", StatusCode::SEE_OTHER),
    ] {
        let answer = Browser::from_address(&app, &acme.host(), ip)
            .sign_in_staff("admin@acme.test", STAFF_PASSWORD)
            .await;
        assert_eq!(answer.0.status(), status, "{ip}");
    }
}

/// Fifty guesses at once are fifty attempts: the limit counts each before its hash,
/// so exactly `limits.sign_in_per_email` reach the password check.
#[tokio::test]
async fn a_burst_of_guesses_cannot_outrun_the_limit() {
    let (app, acme) = app_with_admin("acme").await;
    let browser = Browser::from_address(&app, &acme.host(), "198.51.100.9");
    let token = browser.csrf_token("/staff/login").await;
    let guesses = (0..50).map(|guess| {
        let password = format!("wrong password {guess}");
        let token = token.clone();
        let browser = &browser;
        async move {
            browser
                .post(
                    "/staff/login",
                    &[
                        ("email", "admin@acme.test"),
                        ("password", password.as_str()),
                        ("csrf_token", token.as_str()),
                    ],
                )
                .await
                .0
                .status()
        }
    });
    let statuses = join_all(guesses.collect()).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, limited), (5, 45), "{statuses:?}");
}

/// Guessing the current password on the change form is limited like a sign-in, and
/// a change carries on in a new session id.
#[tokio::test]
async fn the_current_password_is_limited_and_a_change_rotates_the_session() {
    const NEW_PASSWORD: &str = "a brand new passphrase";
    let (app, acme) = app_with_admin("acme").await;
    async fn sign_in(browser: &Browser<'_>, password: &str) -> poem::test::TestResponse {
        let fields = [("email", "body.boom@acme.test"), ("password", password)];
        browser.fill_in("/login", &fields).await
    }
    async fn change(browser: &Browser<'_>, current: &str) -> poem::test::TestResponse {
        let fields = [
            ("password", current),
            ("new_password", NEW_PASSWORD),
            ("confirm_password", NEW_PASSWORD),
        ];
        browser.fill_in("/account/password", &fields).await
    }

    let first = Browser::from_address(&app, &acme.host(), "198.51.100.12");
    sign_in(&first, CONTACT_PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let before = first.cookie("latchkey_session").unwrap();
    change(&first, CONTACT_PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    let after = first.cookie("latchkey_session").unwrap();
    assert_ne!(before, after, "a new session id");
    first.page("/", StatusCode::OK).await;
    let old = acme.browser(&app);
    old.set_cookie("latchkey_session", &before);
    old.page("/", StatusCode::SEE_OTHER).await;

    let guesser = Browser::from_address(&app, &acme.host(), "198.51.100.11");
    sign_in(&guesser, NEW_PASSWORD)
        .await
        .assert_status(StatusCode::SEE_OTHER);
    for _ in 0..5 {
        change(&guesser, "not my password")
            .await
            .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = change(&guesser, NEW_PASSWORD).await;
    limited.assert_status(StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.0.headers().contains_key("retry-after"));
}
