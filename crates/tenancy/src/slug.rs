//! The slug that names a firm and its subdomain: `acme` in `acme.example.com`.

use std::fmt;

/// Names that can never be a firm, because they are, or might one day be, the
/// platform's own hosts or could pass for them in a phishing email.
const RESERVED: &[&str] = &[
    "_dev",
    "admin",
    "administrator",
    "api",
    "app",
    "assets",
    "auth",
    "billing",
    "cdn",
    "dashboard",
    "dev",
    "docs",
    "email",
    "ftp",
    "help",
    "imap",
    "latchkey",
    "localhost",
    "login",
    "mail",
    "metrics",
    "mx",
    "ns1",
    "ns2",
    "operator",
    "platform",
    "pop",
    "pop3",
    "portal",
    "root",
    "security",
    "smtp",
    "sso",
    "static",
    "status",
    "support",
    "system",
    "www",
];

/// The longest DNS label, and so the longest slug.
const MAX_LENGTH: usize = 63;

/// A firm's slug: 1–63 of `[a-z0-9-]`, no hyphen at either end, not reserved.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantSlug(String);

/// Why a string is not a slug; each message tells the person what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("a slug cannot be empty")]
    Empty,
    #[error("a slug has at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("a slug uses only lower-case letters a-z, digits and hyphens")]
    BadCharacter,
    #[error("a slug cannot start or end with a hyphen")]
    HyphenAtEdge,
    #[error("a slug cannot have hyphens in its third and fourth characters (reserved for IDNA)")]
    IdnaPrefix,
    #[error("`{0}` is reserved for the platform")]
    Reserved(String),
}

impl TenantSlug {
    /// Checks `raw` against the slug rules; nothing is normalised, so what is stored is
    /// exactly what the operator typed.
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        if raw.is_empty() {
            return Err(SlugError::Empty);
        }
        if raw.len() > MAX_LENGTH {
            return Err(SlugError::TooLong);
        }
        if RESERVED.contains(&raw) {
            return Err(SlugError::Reserved(raw.to_owned()));
        }
        check_shape(raw)?;
        Ok(Self(raw.to_owned()))
    }

    /// Whether `raw` has a slug's shape, reserved or not: a paging cursor needs no
    /// more, since the firms after a reserved name are as well defined as after any.
    pub fn is_well_formed(raw: &str) -> bool {
        !raw.is_empty() && raw.len() <= MAX_LENGTH && check_shape(raw).is_ok()
    }

    /// A slug read back from the database. It passed `parse` when it was stored; it is
    /// not checked again, so growing the reserved list never locks an existing firm out.
    pub(crate) fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rules of a slug's characters, which a reserved name also follows.
fn check_shape(raw: &str) -> Result<(), SlugError> {
    if !raw
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(SlugError::BadCharacter);
    }
    if raw.starts_with('-') || raw.ends_with('-') {
        return Err(SlugError::HyphenAtEdge);
    }
    // RFC 5891 keeps "??--" labels for A-labels such as "xn--"; a slug there could
    // render as a look-alike of another firm's name.
    if raw.get(2..4) == Some("--") {
        return Err(SlugError::IdnaPrefix);
    }
    Ok(())
}

impl AsRef<str> for TenantSlug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantSlug({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{SlugError, TenantSlug};

    #[test]
    fn accepts_ordinary_slugs() {
        for slug in ["acme", "a", "acme-tax", "firm42", "0", &"a".repeat(63)] {
            assert_eq!(
                TenantSlug::parse(slug).map(|s| s.to_string()),
                Ok(slug.to_owned())
            );
        }
    }

    #[test]
    fn refuses_what_breaks_a_rule() {
        let cases = [
            ("", SlugError::Empty),
            (&*"a".repeat(64), SlugError::TooLong),
            ("ACME", SlugError::BadCharacter),
            ("acme.tax", SlugError::BadCharacter),
            ("acme_tax", SlugError::BadCharacter),
            ("acmé", SlugError::BadCharacter),
            ("acme tax", SlugError::BadCharacter),
            ("-acme", SlugError::HyphenAtEdge),
            ("acme-", SlugError::HyphenAtEdge),
            ("xn--acme", SlugError::IdnaPrefix),
            ("www", SlugError::Reserved("www".into())),
            ("admin", SlugError::Reserved("admin".into())),
            ("api", SlugError::Reserved("api".into())),
            ("mail", SlugError::Reserved("mail".into())),
            ("static", SlugError::Reserved("static".into())),
            ("_dev", SlugError::Reserved("_dev".into())),
        ];
        for (raw, expected) in cases {
            assert_eq!(TenantSlug::parse(raw), Err(expected), "{raw:?}");
        }
    }
}
