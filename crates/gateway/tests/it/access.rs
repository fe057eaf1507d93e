//! "Request your credential" and the staff's Approve / Decline.

use identity::StaffRole;
use poem::http::StatusCode;

use crate::helpers::{Browser, body, location, spawn_app};

#[tokio::test]
async fn a_request_is_listed_for_staff_and_approval_creates_the_contact() {
    let app = spawn_app().await;
    let firm = app.create_firm("acme", "ACME Corporation").await;
    let client = app.create_client(&firm, "John A. Teague").await;
    app.create_staff(
        &firm,
        "admin@acme.test",
        "staff correct horse",
        StaffRole::Admin,
    )
    .await;

    let visitor = Browser::new(&app, "acme.localhost");
    let page = body(visitor.get("/request-access").await).await;
    assert!(page.contains("Request your credential"));
    let bad = visitor
        .submit(
            "/request-access",
            "/request-access",
            &[
                ("name", "Jane"),
                ("email", "nope"),
                ("company", ""),
                ("message", ""),
            ],
        )
        .await;
    bad.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let sent = visitor
        .submit(
            "/request-access",
            "/request-access",
            &[
                ("name", "Jane <b>Doe</b>"),
                ("email", "Jane.Doe@Example.com"),
                ("company", "Doe & Co"),
                ("message", "Please give me access.\nThanks"),
            ],
        )
        .await;
    sent.assert_status_is_ok();
    assert!(
        body(sent)
            .await
            .contains("Your request was sent to ACME Corporation")
    );

    let staff = Browser::new(&app, "acme.localhost");
    staff
        .sign_in_staff("admin@acme.test", "staff correct horse")
        .await;
    let list = body(staff.get("/staff/access-requests").await).await;
    assert!(
        list.contains("Jane &lt;b&gt;Doe&lt;&#x2f;b&gt;")
            && list.contains("jane.doe@example.com")
            && list.contains("Doe &amp; Co"),
        "{list}"
    );
    let marker = "/staff/access-requests/";
    let start = list.find(marker).unwrap() + marker.len();
    let request_id = &list[start..start + 36];

    let approve = format!("/staff/access-requests/{request_id}/approve");
    let client_id = client.id.to_string();
    let approved = staff
        .submit(
            "/staff/access-requests",
            &approve,
            &[("client_id", client_id.as_str())],
        )
        .await;
    approved.assert_status(StatusCode::SEE_OTHER);
    assert!(location(&approved).starts_with(&format!("/staff/clients/{}/contacts/", client.id)));
    let contacts = body(
        staff
            .get(&format!("/staff/clients/{}/contacts", client.id))
            .await,
    )
    .await;
    assert!(
        contacts.contains("jane.doe@example.com") && contacts.contains("invited"),
        "{contacts}"
    );
    assert!(
        body(staff.get("/staff/access-requests").await)
            .await
            .contains("No pending requests")
    );
    // Deciding twice is not possible.
    staff
        .submit(
            "/staff/access-requests",
            &approve,
            &[("client_id", client_id.as_str())],
        )
        .await
        .assert_status(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn declining_and_other_firms_requests() {
    let app = spawn_app().await;
    let acme = app.create_firm("acme", "ACME Corporation").await;
    let globex = app.create_firm("globex", "Globex").await;
    app.create_staff(
        &acme,
        "admin@acme.test",
        "staff correct horse",
        StaffRole::Admin,
    )
    .await;
    app.create_staff(
        &globex,
        "admin@globex.test",
        "staff correct horse",
        StaffRole::Admin,
    )
    .await;
    let visitor = Browser::new(&app, "acme.localhost");
    visitor
        .submit(
            "/request-access",
            "/request-access",
            &[
                ("name", "Jane"),
                ("email", "jane@example.com"),
                ("company", ""),
                ("message", ""),
            ],
        )
        .await
        .assert_status_is_ok();
    let request = identity::pending_access_requests(&app.state.services.db, acme.id, 10)
        .await
        .unwrap()
        .remove(0);

    let other = Browser::new(&app, "globex.localhost");
    other
        .sign_in_staff("admin@globex.test", "staff correct horse")
        .await;
    assert!(
        body(other.get("/staff/access-requests").await)
            .await
            .contains("No pending requests")
    );
    other
        .submit(
            "/staff/access-requests",
            &format!("/staff/access-requests/{}/decline", request.id),
            &[],
        )
        .await
        .assert_status(StatusCode::NOT_FOUND);

    let staff = Browser::new(&app, "acme.localhost");
    staff
        .sign_in_staff("admin@acme.test", "staff correct horse")
        .await;
    let declined = staff
        .submit(
            "/staff/access-requests",
            &format!("/staff/access-requests/{}/decline", request.id),
            &[],
        )
        .await;
    assert_eq!(location(&declined), "/staff/access-requests");
    assert!(
        identity::pending_access_requests(&app.state.services.db, acme.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Each request emails every staff member a stranger's text: a firm takes at most
/// `limits.access_requests_per_firm_per_hour`, however many addresses send them, and
/// another firm is not affected.
#[tokio::test]
async fn requests_are_capped_per_firm_per_hour_whatever_the_address() {
    let app = crate::helpers::spawn_app_with(&[(
        "LATCHKEY__LIMITS__ACCESS_REQUESTS_PER_FIRM_PER_HOUR",
        "3",
    )])
    .await;
    app.create_firm("acme", "ACME Corporation").await;
    app.create_firm("globex", "Globex").await;
    let request = |host: &'static str, n: u8| {
        let app = &app;
        async move {
            let visitor = Browser::from_address(app, host, &format!("198.51.100.{n}"));
            let email = format!("visitor{n}@example.test");
            visitor
                .submit(
                    "/request-access",
                    "/request-access",
                    &[
                        ("name", "Visitor"),
                        ("email", email.as_str()),
                        ("company", ""),
                        ("message", "let me in"),
                    ],
                )
                .await
                .0
                .status()
        }
    };
    let mut statuses = Vec::new();
    for n in 1..=4 {
        statuses.push(request("acme.localhost", n).await);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(request("globex.localhost", 5).await, StatusCode::OK);
    let acme = tenancy::find_tenant_by_slug(
        &app.state.services.db,
        &tenancy::TenantSlug::parse("acme").unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let kept = identity::pending_access_requests(&app.state.services.db, acme.id, 100)
        .await
        .unwrap();
    assert_eq!(kept.len(), 3, "the refused one was not kept");
}
