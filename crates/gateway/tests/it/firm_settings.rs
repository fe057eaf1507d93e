//! `/staff/settings`: a firm's administrators edit the settings the operator API
//! also sets, under the same rules.

use identity::StaffRole;
use poem::http::StatusCode;
use poem::test::TestResponse;

use crate::helpers::{Browser, TestApp, body, location, spawn_app};

/// ACME Corporation, with a browser signed in as one of its staff in `role`.
async fn signed_in(app: &TestApp, role: StaffRole) -> Browser<'_> {
    let firm = app.firm_named("acme", "ACME Corporation").await;
    app.signed_in_staff(&firm, role).await
}

/// Saves the settings form with `overrides` of its defaults.
async fn save(admin: &Browser<'_>, overrides: &[(&str, &str)]) -> TestResponse {
    admin.fill_in("/staff/settings", &fields(overrides)).await
}

fn fields<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("display_name", "ACME Corporation"),
        ("logo_url", ""),
        ("accent_colour", ""),
        ("reset_mode", "link"),
        ("reset_link_minutes", ""),
        ("min_password_length", ""),
        ("default_locale", "en"),
    ];
    for (name, value) in overrides {
        all.retain(|(field, _)| field != name);
        all.push((name, value));
    }
    all
}

#[tokio::test]
async fn only_administrators_see_the_settings() {
    let app = spawn_app().await;
    let staff = signed_in(&app, StaffRole::Staff).await;
    staff.page("/staff/settings", StatusCode::FORBIDDEN).await;
    let anonymous = Browser::new(&app, "acme.localhost");
    let answer = anonymous.get("/staff/settings").await;
    assert_eq!(answer.0.status(), StatusCode::SEE_OTHER);
    assert!(location(&answer).starts_with("/staff/login"));
}

#[tokio::test]
async fn an_administrator_changes_the_settings_and_the_firm_follows() {
    let app = spawn_app().await;
    let admin = signed_in(&app, StaffRole::Admin).await;
    let page = admin.text("/staff/settings").await;
    assert!(page.contains("Firm settings") && page.contains("ACME Corporation"));

    let saved = save(
        &admin,
        &[
            ("display_name", "ACME Legal"),
            ("reset_mode", "temporary_password"),
            ("reset_link_minutes", "30"),
            ("min_password_length", "12"),
            ("accent_colour", "#0a7c55"),
            ("default_locale", "it"),
        ],
    )
    .await;
    assert_eq!(saved.0.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), "/staff/settings?saved=1");
    let page = admin.text("/staff/settings?saved=1").await;
    assert!(page.contains("Settings saved."));
    assert!(page.contains("ACME Legal"));

    let firm = app.stored_firm("acme").await;
    assert_eq!(firm.display_name, "ACME Legal");
    assert_eq!(
        firm.settings.reset_mode,
        tenancy::ResetMode::TemporaryPassword
    );
    assert_eq!(firm.settings.reset_link_minutes, Some(30));
    assert_eq!(firm.settings.min_password_length, Some(12));
    assert_eq!(firm.settings.default_locale, "it");
    assert_eq!(
        firm.settings.branding.accent_colour.as_deref(),
        Some("#0a7c55")
    );
    // The firm's own password rule is the one its pages apply.
    assert_eq!(app.state.services.policy(&firm).password.min_length, 12);
}

#[tokio::test]
async fn out_of_range_values_are_refused_with_the_field_marked() {
    let app = spawn_app().await;
    let admin = signed_in(&app, StaffRole::Admin).await;
    for (field, value) in [
        ("reset_link_minutes", "4"),
        ("reset_link_minutes", "1441"),
        ("reset_link_minutes", "soon"),
        ("min_password_length", "7"),
        ("logo_url", "javascript:alert(1)"),
        ("accent_colour", "red"),
        ("default_locale", "fr"),
        ("reset_mode", "sideways"),
        ("display_name", " "),
    ] {
        let answer = save(&admin, &[(field, value)]).await;
        assert_eq!(
            answer.0.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}={value}"
        );
        let page = body(answer).await;
        assert!(
            page.contains(&format!("id=\"{field}-error\"")),
            "{field}={value}: {page}"
        );
    }
    let firm = app.stored_firm("acme").await;
    assert_eq!(
        firm.settings,
        tenancy::TenantSettings::default(),
        "nothing changed"
    );
    assert_eq!(firm.display_name, "ACME Corporation");
}
