//! What a firm is: its identity, status, domains and settings.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{HostName, TenancyError, TenantId, TenantSlug};

/// Whether a firm's hosts serve its portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    /// The firm exists but its portal answers with a "suspended" page.
    Suspended,
    /// Deleted: its hosts answer like hosts of no firm, and its data is purged after
    /// a grace period.
    Deleted,
}

impl TenantStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

impl fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the firm's pages and emails look.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Branding {
    /// An https URL of the firm's logo, shown in the page header and in emails.
    pub logo_url: Option<String>,
    /// The accent colour as `#rrggbb`.
    pub accent_colour: Option<String>,
}

impl Branding {
    /// The logo URL, if it is safe to put in a page or an email. Stored values are
    /// checked when set; this guards against rows written before the checks.
    pub fn safe_logo_url(&self) -> Option<&str> {
        self.logo_url.as_deref().filter(|url| is_https_url(url))
    }

    /// The accent colour, if it is safe to put in a stylesheet.
    pub fn safe_accent_colour(&self) -> Option<&str> {
        self.accent_colour
            .as_deref()
            .filter(|colour| is_hex_colour(colour))
    }
}

/// What a reset link does when it is used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetMode {
    /// The person chooses a new password on the page the link opens.
    #[default]
    Link,
    /// The page's button emails a generated password that must be changed at the next
    /// sign-in.
    TemporaryPassword,
}

/// A firm's own choices. Stored as JSON so that later settings need no migration of
/// old rows: a missing field takes its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    pub branding: Branding,
    /// The locale for contacts who have not chosen one (`en`, `it`).
    pub default_locale: String,
    pub reset_mode: ResetMode,
    /// Minutes a reset link lives; `None` takes the platform's `reset.default_ttl_minutes`.
    pub reset_link_minutes: Option<i64>,
    /// The shortest password the firm accepts; `None` takes the platform's
    /// `password.min_length`.
    pub min_password_length: Option<u32>,
}

/// The locales pages and emails exist in.
pub const SUPPORTED_LOCALES: &[&str] = &["en", "it"];

/// What a firm may choose, after NIST SP 800-63B for passwords (at least 8, and a
/// maximum of at least 64 must be allowed) and the token rules for links.
pub const RESET_LINK_MINUTES: std::ops::RangeInclusive<i64> = 5..=1440;
pub const MIN_PASSWORD_LENGTH: std::ops::RangeInclusive<u32> = 8..=64;

impl TenantSettings {
    /// Refuses a value out of range, naming the setting.
    pub fn validate(&self) -> Result<(), TenancyError> {
        let invalid = |field: &'static str, reason: String| {
            Err(TenancyError::InvalidSetting { field, reason })
        };
        if let Some(minutes) = self.reset_link_minutes
            && !RESET_LINK_MINUTES.contains(&minutes)
        {
            return invalid(
                "reset_link_minutes",
                format!("must be 5 to 1440 minutes, not {minutes}"),
            );
        }
        if let Some(length) = self.min_password_length
            && !MIN_PASSWORD_LENGTH.contains(&length)
        {
            return invalid(
                "min_password_length",
                format!("must be 8 to 64 characters, not {length}"),
            );
        }
        if !SUPPORTED_LOCALES.contains(&self.default_locale.as_str()) {
            return invalid(
                "default_locale",
                format!("must be one of {}", SUPPORTED_LOCALES.join(", ")),
            );
        }
        if let Some(url) = &self.branding.logo_url
            && !is_https_url(url)
        {
            return invalid(
                "branding.logo_url",
                "must be an https:// URL of at most 2048 characters".to_owned(),
            );
        }
        if let Some(colour) = &self.branding.accent_colour
            && !is_hex_colour(colour)
        {
            return invalid(
                "branding.accent_colour",
                "must be a colour written #rrggbb".to_owned(),
            );
        }
        Ok(())
    }
}

/// An absolute https URL that can sit in an HTML attribute or a CSS `url()` as is.
pub fn is_https_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    url.chars().count() <= 2048
        && !host.is_empty()
        && !url.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '"' | '\'' | '<' | '>' | '\\' | '(' | ')')
        })
}

/// `#rrggbb`, the only colour form pages and emails accept.
pub fn is_hex_colour(colour: &str) -> bool {
    colour.len() == 7
        && colour.starts_with('#')
        && colour[1..].chars().all(|c| c.is_ascii_hexdigit())
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            branding: Branding::default(),
            default_locale: "en".to_owned(),
            reset_mode: ResetMode::Link,
            reset_link_minutes: None,
            min_password_length: None,
        }
    }
}

/// A firm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub display_name: String,
    pub status: TenantStatus,
    /// Where invitations for the firm's first administrator go.
    pub admin_email: String,
    /// A verified custom domain chosen for links in emails; `None` means the firm's
    /// subdomain of the platform.
    pub canonical_domain: Option<HostName>,
    pub settings: TenantSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the firm was deleted; its data goes at the purge after that.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Tenant {
    /// The host that links to this firm use: its chosen custom domain, or
    /// `{slug}.{base_domain}`. Never derived from a request.
    pub fn canonical_host(&self, base_domain: &HostName) -> String {
        match &self.canonical_domain {
            Some(domain) => domain.to_string(),
            None => format!("{}.{}", self.slug, base_domain),
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == TenantStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::{Tenant, TenantId, TenantSettings, TenantStatus};
    use crate::{HostName, TenantSlug};

    fn tenant(canonical: Option<&str>) -> Tenant {
        Tenant {
            id: TenantId::generate(),
            slug: TenantSlug::parse("acme").unwrap(),
            display_name: "ACME Corporation".into(),
            status: TenantStatus::Active,
            admin_email: "admin@acme.test".into(),
            canonical_domain: canonical.map(|d| HostName::parse(d).unwrap()),
            settings: TenantSettings::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            deleted_at: None,
        }
    }

    #[test]
    fn canonical_host_prefers_the_chosen_domain() {
        let base = HostName::parse("example.com").unwrap();
        assert_eq!(tenant(None).canonical_host(&base), "acme.example.com");
        assert_eq!(
            tenant(Some("portal.acme.test")).canonical_host(&base),
            "portal.acme.test"
        );
    }

    #[test]
    fn settings_missing_fields_take_defaults() {
        let settings: TenantSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(settings, TenantSettings::default());
        assert_eq!(settings.default_locale, "en");
        let older: TenantSettings =
            serde_json::from_str(r#"{"reset_mode":"link","reset_link_minutes":30}"#).unwrap();
        assert_eq!(older.min_password_length, None);
        assert_eq!(older.reset_link_minutes, Some(30));
    }

    fn with(change: impl FnOnce(&mut TenantSettings)) -> Result<(), String> {
        let mut settings = TenantSettings::default();
        change(&mut settings);
        settings.validate().map_err(|error| error.to_string())
    }

    #[test]
    fn settings_ranges_hold_at_their_edges() {
        assert!(with(|_| {}).is_ok());
        for (minutes, ok) in [(4, false), (5, true), (1440, true), (1441, false)] {
            assert_eq!(
                with(|s| s.reset_link_minutes = Some(minutes)).is_ok(),
                ok,
                "{minutes}"
            );
        }
        for (length, ok) in [(7, false), (8, true), (64, true), (65, false)] {
            assert_eq!(
                with(|s| s.min_password_length = Some(length)).is_ok(),
                ok,
                "{length}"
            );
        }
        assert!(with(|s| s.default_locale = "it".into()).is_ok());
        assert!(with(|s| s.default_locale = "fr".into()).is_err());
        assert!(with(|s| s.default_locale = String::new()).is_err());
    }

    #[test]
    fn branding_takes_only_https_logos_and_hex_colours() {
        let logo = |url: &str| with(|s| s.branding.logo_url = Some(url.into()));
        assert!(logo("https://cdn.acme.test/logo.png").is_ok());
        for bad in [
            "http://cdn.acme.test/logo.png",
            "https://",
            "javascript:alert(1)",
            "https://cdn.acme.test/a b.png",
            "https://cdn.acme.test/\"onload=\"x",
            "https://cdn.acme.test/x');background:url('y",
        ] {
            assert!(logo(bad).is_err(), "{bad}");
        }
        assert!(logo(&format!("https://a.test/{}", "x".repeat(2048))).is_err());
        let colour = |c: &str| with(|s| s.branding.accent_colour = Some(c.into()));
        assert!(colour("#0a7C55").is_ok());
        for bad in ["red", "#0a7c5", "#0a7c550", "0a7c55#", "#0g7c55"] {
            assert!(colour(bad).is_err(), "{bad}");
        }
    }
}
