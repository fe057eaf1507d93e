//! "Request your credential" and the staff's Approve / Decline.

use identity::StaffRole;
use poem::http::StatusCode;

use crate::helpers::{Browser, body, location, spawn_app};

#[tokio::test]
async fn a_request_is_listed_for_staff_and_approval_creates_the_contact() {
    let app = spawn_app().await;
    let firm = app.firm_named("acme", "ACME Corporation").await;
    let client = &firm.client;

    let visitor = Browser::new(&app, "acme.localhost");
    let page = visitor.text("/request-access").await;
    assert!(page.contains("Request your credential"));
    let bad = visitor.request_access(["Jane", "nope", "", ""]).await;
    bad.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    let sent = visitor
        .request_access([
            "Jane <b>Doe</b>",
            "Jane.Doe@Example.com",
            "Doe & Co",
            "Please give me access.\nThanks",
        ])
        .await;
    sent.assert_status_is_ok();
    assert!(
        body(sent)
            .await
            .contains("Your request was sent to ACME Corporation")
    );

    let staff = app.signed_in_staff(&firm, StaffRole::Admin).await;
    let list = staff.text("/staff/access-requests").await;
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
    let contacts = staff.text(&firm.contacts_page()).await;
    assert!(
        contacts.contains("jane.doe@example.com") && contacts.contains("invited"),
        "{contacts}"
    );
    assert!(
        staff
            .text("/staff/access-requests")
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
    let acme = app.firm_named("acme", "ACME Corporation").await;
    let globex = app.firm_named("globex", "Globex").await;
    let visitor = Browser::new(&app, "acme.localhost");
    visitor
        .request_access(["Jane", "jane@example.com", "", ""])
        .await
        .assert_status_is_ok();
    let pending = || identity::pending_access_requests(app.db(), acme.tenant.id, 10);
    let request = pending().await.unwrap().remove(0);

    let other = app.signed_in_staff(&globex, StaffRole::Admin).await;
    assert!(
        other
            .text("/staff/access-requests")
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

    let staff = app.signed_in_staff(&acme, StaffRole::Admin).await;
    let declined = staff
        .submit(
            "/staff/access-requests",
            &format!("/staff/access-requests/{}/decline", request.id),
            &[],
        )
        .await;
    assert_eq!(location(&declined), "/staff/access-requests");
    assert!(pending().await.unwrap().is_empty());
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
            let fields = ["Visitor", email.as_str(), "", "let me in"];
            visitor.request_access(fields).await.0.status()
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
    let acme = app.stored_firm("acme").await;
    let kept = identity::pending_access_requests(app.db(), acme.id, 100)
        .await
        .unwrap();
    assert_eq!(kept.len(), 3, "the refused one was not kept");
}
