//! Every message renders in both languages, in the firm's branding, with hostile
//! values shown as text.

use chrono::Utc;
use notification::{
    AccessRequestReceived, Email, EmailKind, FindYourFirm, FirmLink, Invitation, NotificationError,
    PasswordChanged, PasswordReset, Renderer, TemporaryPassword,
};
use tenancy::{Branding, Tenant, TenantId, TenantSettings, TenantSlug, TenantStatus};

fn firm(name: &str, branding: Branding, default_locale: &str) -> Tenant {
    Tenant {
        id: TenantId::generate(),
        slug: TenantSlug::parse("acme").unwrap(),
        display_name: name.to_owned(),
        status: TenantStatus::Active,
        admin_email: "admin@acme.test".to_owned(),
        canonical_domain: None,
        settings: TenantSettings {
            branding,
            default_locale: default_locale.to_owned(),
            ..TenantSettings::default()
        },
        created_at: Utc::now(),
        updated_at: Utc::now(),
        deleted_at: None,
    }
}

/// How minijinja writes a value into HTML: `/` is escaped too, which browsers and
/// mail clients decode in attributes and text alike.
fn escaped(url: &str) -> String {
    url.replace('&', "&amp;").replace('/', "&#x2f;")
}

fn plain_firm() -> Tenant {
    firm("ACME Accountants", Branding::default(), "en")
}

/// ACME, in English, with this logo and accent colour.
fn acme_branded(logo_url: &str, accent_colour: &str) -> Tenant {
    let branding = Branding {
        logo_url: Some(logo_url.into()),
        accent_colour: Some(accent_colour.into()),
    };
    firm("ACME", branding, "en")
}

fn reset(name: &str) -> Email {
    PasswordReset {
        name: name.to_owned(),
        url: "https://acme.latchkey.test/reset/abc.def".to_owned(),
        expires_in_minutes: 15,
    }
    .into()
}

fn every_email() -> Vec<Email> {
    vec![
        reset("Ann"),
        TemporaryPassword {
            name: "Ann".into(),
            password: "tidy-otter-42".into(),
            sign_in_url: "https://acme.latchkey.test/login".into(),
        }
        .into(),
        PasswordChanged {
            name: "Ann".into(),
            reset_url: "https://acme.latchkey.test/forgot-password".into(),
        }
        .into(),
        Invitation {
            name: "Ann".into(),
            url: "https://acme.latchkey.test/reset/inv.xyz".into(),
            expires_in_hours: 72,
        }
        .into(),
        FindYourFirm {
            firms: vec![
                FirmLink {
                    name: "ACME Accountants".into(),
                    url: "https://acme.latchkey.test/login".into(),
                },
                FirmLink {
                    name: "Bolt & Partners".into(),
                    url: "https://bolt.latchkey.test/login".into(),
                },
            ],
        }
        .into(),
        AccessRequestReceived {
            requester_name: "Bob Rossi".into(),
            requester_email: "bob@client.test".into(),
            company: "Client Srl".into(),
            message: "Please let me in.".into(),
            review_url: "https://acme.latchkey.test/staff/access-requests".into(),
        }
        .into(),
    ]
}

#[test]
fn the_password_reset_email_has_everything_the_user_was_promised() {
    let rendered = Renderer::new()
        .render(&reset("Ann"), &plain_firm(), None)
        .unwrap();
    assert_eq!(rendered.kind, EmailKind::PasswordReset);
    assert_eq!(rendered.subject, "Password Reset");
    assert_eq!(rendered.locale, "en");
    let url = "https://acme.latchkey.test/reset/abc.def";
    let html_url = escaped(url);
    // The button, then the same URL as text to copy.
    let button = rendered
        .html
        .find(">Reset Password</a>")
        .expect("a Reset Password button");
    let copy = rendered
        .html
        .find("If the button doesn&#x27;t work")
        .expect("the copy hint");
    assert!(button < copy);
    assert_eq!(
        rendered
            .html
            .matches(&format!("href=\"{html_url}\""))
            .count(),
        2
    );
    assert!(rendered.html[copy..].contains(&format!(">{html_url}</a>")));
    assert!(rendered.html.contains("expires in 15 minutes"));
    assert!(
        rendered
            .html
            .contains("If you did not ask for this, ignore this email")
    );
    // The text part is plain: the URL on its own, no markup.
    assert!(rendered.text.contains(url));
    assert!(rendered.text.contains("expires in 15 minutes"));
    assert!(
        rendered
            .text
            .contains("If you did not ask for this, ignore this email")
    );
    assert!(!rendered.text.contains('<'), "{}", rendered.text);
    assert!(!rendered.text.contains("&#x27;"));
}

#[test]
fn every_message_renders_in_english_and_italian() {
    let renderer = Renderer::new();
    for email in every_email() {
        let english = renderer.render(&email, &plain_firm(), Some("en")).unwrap();
        let italian = renderer.render(&email, &plain_firm(), Some("it")).unwrap();
        assert_eq!(english.kind, email.kind());
        assert_ne!(english.subject, italian.subject, "{:?}", email.kind());
        assert_ne!(english.text, italian.text);
        assert!(italian.html.contains("<html lang=\"it\">"));
        assert!(english.html.contains("ACME Accountants"));
        assert!(english.text.starts_with("ACME Accountants"));
        for part in [&english.text, &italian.text] {
            assert!(!part.contains("<p"), "{:?}: {part}", email.kind());
        }
    }
    let italian = renderer
        .render(&reset("Ann"), &plain_firm(), Some("it"))
        .unwrap();
    assert_eq!(italian.subject, "Reimpostazione password");
    assert!(italian.html.contains(">Reimposta password</a>"));
    assert!(italian.text.contains("scade tra 15 minuti"));
}

#[test]
fn each_message_carries_its_own_facts() {
    let renderer = Renderer::new();
    let rendered: Vec<_> = every_email()
        .iter()
        .map(|email| renderer.render(email, &plain_firm(), None).unwrap())
        .collect();
    assert!(rendered[1].text.contains("tidy-otter-42"));
    assert!(rendered[1].html.contains("tidy-otter-42"));
    assert!(rendered[2].text.contains("was just changed"));
    assert!(
        rendered[3]
            .html
            .contains(&escaped("https://acme.latchkey.test/reset/inv.xyz"))
    );
    assert!(rendered[3].text.contains("expires in 72 hours"));
    assert!(rendered[4].html.contains("Bolt &amp; Partners"));
    assert!(
        rendered[4]
            .text
            .contains("- Bolt & Partners: https://bolt.latchkey.test/login")
    );
    for fact in [
        "Bob Rossi",
        "bob@client.test",
        "Client Srl",
        "Please let me in.",
    ] {
        assert!(rendered[5].html.contains(fact), "{fact}");
        assert!(rendered[5].text.contains(fact), "{fact}");
    }
}

#[test]
fn the_locale_falls_back_to_the_firm_then_english() {
    let renderer = Renderer::new();
    let italian_firm = firm("Studio Bianchi", Branding::default(), "it");
    let chosen = |firm: &Tenant, locale: Option<&str>| {
        renderer.render(&reset("Ann"), firm, locale).unwrap().locale
    };
    assert_eq!(chosen(&italian_firm, None), "it");
    assert_eq!(chosen(&italian_firm, Some("fr")), "it");
    assert_eq!(chosen(&italian_firm, Some("en")), "en");
    assert_eq!(
        chosen(&firm("X", Branding::default(), "de"), Some("fr")),
        "en"
    );
}

#[test]
fn branding_appears_only_when_it_is_safe() {
    let renderer = Renderer::new();
    let branded = acme_branded("https://cdn.acme.test/logo.png", "#ff6600");
    let html = renderer.render(&reset("Ann"), &branded, None).unwrap().html;
    let logo = escaped("https://cdn.acme.test/logo.png");
    assert!(
        html.contains(&format!("<img src=\"{logo}\" alt=\"ACME\"")),
        "{html}"
    );
    assert!(html.contains("background:#ff6600"));

    let unsafe_branding = acme_branded(
        "http://cdn.acme.test/logo.png",
        "red;background:url(https://evil.test/x)",
    );
    let html = renderer
        .render(&reset("Ann"), &unsafe_branding, None)
        .unwrap()
        .html;
    assert!(!html.contains("<img"));
    assert!(!html.contains("cdn.acme.test"));
    assert!(!html.contains("evil.test"));
    assert!(html.contains("#1d4ed8"), "the default accent");
}

#[test]
fn hostile_names_stay_text() {
    let renderer = Renderer::new();
    let hostile_firm = firm(
        "<script>alert(1)</script> {{ 7*7 }}",
        Branding::default(),
        "en",
    );
    let name = "<b>Bob</b> {{ 6*7 }} {firm}\r\nBcc: eve@evil.test";
    let rendered = renderer.render(&reset(name), &hostile_firm, None).unwrap();
    assert!(!rendered.html.contains("<script>"));
    assert!(!rendered.html.contains("<b>"));
    assert!(
        rendered
            .html
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
    );
    assert!(rendered.html.contains("&lt;b&gt;Bob&lt;&#x2f;b&gt;"));
    for part in [&rendered.html, &rendered.text] {
        assert!(
            part.contains("{{ 7*7 }}"),
            "templates in names are not evaluated"
        );
        assert!(part.contains("{{ 6*7 }}"));
        assert!(!part.contains("49") && !part.contains("42"));
        assert!(
            part.contains("{firm}"),
            "placeholders in names are not filled"
        );
    }
    // The text part is not HTML: it shows the name exactly as typed.
    assert!(rendered.text.contains("Hello <b>Bob</b>"));
    // A line break in a name cannot start a line of its own.
    assert!(!rendered.text.contains("\nBcc:"));
    assert!(rendered.text.contains("{firm}  Bcc: eve@evil.test"));
    // Names never reach the subject, so they cannot add headers.
    assert_eq!(rendered.subject, "Password Reset");
}

#[test]
fn links_must_be_web_urls() {
    let renderer = Renderer::new();
    for url in [
        "javascript:alert(1)",
        "data:text/html,x",
        "https://a.test/x y",
        "",
    ] {
        let email: Email = PasswordReset {
            name: "Ann".into(),
            url: url.into(),
            expires_in_minutes: 15,
        }
        .into();
        assert!(
            matches!(
                renderer.render(&email, &plain_firm(), None),
                Err(NotificationError::InvalidUrl)
            ),
            "{url}"
        );
    }
}
