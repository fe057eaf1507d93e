//! `/staff/settings`: a firm's administrators edit the settings the operator API
//! also sets, under the same rules.

use poem::http::StatusCode;

use crate::helpers::{Browser, TestApp, body, location, spawn_app};

async fn setup(app: &TestApp) -> tenancy::Tenant {
    let firm = app.create_firm("acme", "ACME Corporation").await;
    app.create_staff(
        &firm,
        "admin@acme.test",
        "admin correct horse",
        identity::StaffRole::Admin,
    )
    .await;
    app.create_staff(
        &firm,
        "staff@acme.test",
        "staff correct horse",
        identity::StaffRole::Staff,
    )
    .await;
    firm
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

async fn stored(app: &TestApp) -> tenancy::Tenant {
    tenancy::find_tenant_by_slug(
        &app.state.services.db,
        &tenancy::TenantSlug::parse("acme").unwrap(),
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn only_administrators_see_the_settings() {
    let app = spawn_app().await;
    setup(&app).await;
    let staff = Browser::new(&app, "acme.localhost");
    staff
        .sign_in_staff("staff@acme.test", "staff correct horse")
        .await;
    staff
        .get("/staff/settings")
        .await
        .assert_status(StatusCode::FORBIDDEN);
    let anonymous = Browser::new(&app, "acme.localhost");
    let answer = anonymous.get("/staff/settings").await;
    assert_eq!(answer.0.status(), StatusCode::SEE_OTHER);
    assert!(location(&answer).starts_with("/staff/login"));
}

#[tokio::test]
async fn an_administrator_changes_the_settings_and_the_firm_follows() {
    let app = spawn_app().await;
    setup(&app).await;
    let admin = Browser::new(&app, "acme.localhost");
    admin
        .sign_in_staff("admin@acme.test", "admin correct horse")
        .await;
    let page = body(admin.get("/staff/settings").await).await;
    assert!(page.contains("Firm settings") && page.contains("ACME Corporation"));

    let saved = admin
        .submit(
            "/staff/settings",
            "/staff/settings",
            &fields(&[
                ("display_name", "ACME Legal"),
                ("reset_mode", "temporary_password"),
                ("reset_link_minutes", "30"),
                ("min_password_length", "12"),
                ("accent_colour", "#0a7c55"),
                ("default_locale", "it"),
            ]),
        )
        .await;
    assert_eq!(saved.0.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&saved), "/staff/settings?saved=1");
    let page = body(admin.get("/staff/settings?saved=1").await).await;
    assert!(page.contains("Settings saved."));
    assert!(page.contains("ACME Legal"));

    let firm = stored(&app).await;
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
    setup(&app).await;
    let admin = Browser::new(&app, "acme.localhost");
    admin
        .sign_in_staff("admin@acme.test", "admin correct horse")
        .await;
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
        let answer = admin
            .submit(
                "/staff/settings",
                "/staff/settings",
                &fields(&[(field, value)]),
            )
            .await;
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
    let firm = stored(&app).await;
    assert_eq!(
        firm.settings,
        tenancy::TenantSettings::default(),
        "nothing changed"
    );
    assert_eq!(firm.display_name, "ACME Corporation");
}
