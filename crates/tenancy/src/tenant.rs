//! What a firm is: its identity, status, domains and settings.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{HostName, TenantSlug};

/// The key of a firm. Every function that touches firm data takes one, so no contact,
/// client, session or token can be loaded without saying whose it is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TenantId(Uuid);

impl TenantId {
    /// A new, time-ordered id (UUIDv7), so inserts land at the end of the index.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

/// Whether a firm's hosts serve its portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    /// The firm exists but its portal answers with a "suspended" page.
    Suspended,
}

impl TenantStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
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
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            branding: Branding::default(),
            default_locale: "en".to_owned(),
            reset_mode: ResetMode::Link,
            reset_link_minutes: None,
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
    }
}
