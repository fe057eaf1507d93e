//! Email addresses, normalised once so that every lookup compares like with like.
//!
//! Django's CVE-2019-19844 came from comparing a typed address with a stored one under
//! different Unicode rules; here both sides go through the same NFKC + lower-case.
//!
//! An address must also be one that lettre, which sends our email, accepts: an
//! account whose address cannot be sent to would fail every email it is owed (and
//! once wedged the reset queue). So lettre's own parser has the last word at entry.

use std::fmt;
use std::str::FromStr;

use unicode_normalization::UnicodeNormalization;

/// A normalised email address: trimmed, Unicode NFKC, lower-case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address, like name@example.com.")]
    Invalid,
}

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let normalised = normalise(raw.trim());
        let (local, domain) = normalised.rsplit_once('@').ok_or(EmailError::Invalid)?;
        let valid = !local.is_empty()
            && local.chars().count() <= 64
            && normalised.chars().count() <= 254
            && !local.contains('@')
            && !normalised.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"' | '\\')
            })
            && is_domain(domain)
            && lettre::Address::from_str(&normalised).is_ok();
        if !valid {
            return Err(EmailError::Invalid);
        }
        Ok(Self(normalised))
    }

    /// Restores an address read back from the database, where only parsed ones go.
    pub(crate) fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`: what logs may show of an address.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

/// NFKC, lower-case, then NFKC again. Lower-casing can undo NFKC: `İ` becomes `i`
/// and a combining dot above, which must then sort after a following mark of a lower
/// combining class. Without the second pass such an address is stored in a form that
/// parses to something else when typed back, and never matches itself.
fn normalise(raw: &str) -> String {
    raw.nfkc()
        .collect::<String>()
        .to_lowercase()
        .nfkc()
        .collect()
}

/// A domain with at least two labels; internationalised labels are allowed as typed.
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shows only the domain, so a stray `{:?}` in a log cannot leak an address.
impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress(…@{})", self.domain())
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::EmailAddress;

    #[test]
    fn normalises_case_space_and_unicode() {
        let cases = [
            ("  Body.Boom@Example.COM ", "body.boom@example.com"),
            ("ｂｏｄｙ@example.com", "body@example.com"),
            ("İnfo@example.com", "i̇nfo@example.com"),
            ("x@bücher.example", "x@bücher.example"),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                EmailAddress::parse(raw).expect(raw).as_str(),
                expected,
                "{raw}"
            );
        }
        assert_eq!(
            EmailAddress::parse("A@B.CO").unwrap(),
            EmailAddress::parse("a@b.co").unwrap()
        );
    }

    /// Found by the `email` fuzz target: `İ` lower-cases to `i` and U+0307, which NFKC
    /// puts after the following U+0317 (combining class 220 against 230).
    #[test]
    fn lower_casing_does_not_undo_nfkc() {
        let address = EmailAddress::parse("İ\u{317}+@o.h").unwrap();
        assert_eq!(address.as_str(), "i\u{317}\u{307}+@o.h");
        assert!(unicode_normalization::is_nfkc(address.as_str()));
        assert_eq!(EmailAddress::parse(address.as_str()), Ok(address.clone()));
        assert_eq!(
            EmailAddress::parse("I\u{307}\u{317}+@o.h"),
            Ok(address.clone())
        );
        assert_eq!(EmailAddress::parse("i\u{307}\u{317}+@O.H"), Ok(address));
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for raw in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@exa mple.com",
            "a@example..com",
            "a@-example.com",
            "<a@example.com>",
            "a@example.com\r\nBcc: x@y.z",
            "a,b@example.com",
            "a@b@example.com",
            // Refused by lettre, which sends our email.
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
        ] {
            assert!(EmailAddress::parse(raw).is_err(), "{raw:?}");
        }
    }

    proptest::proptest! {
        /// Whatever is accepted can be sent to: lettre parses every address we store.
        #[test]
        fn every_accepted_address_is_one_lettre_sends_to(
            raw in "[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~ \\-\"()<>,;:@\\[\\]\u{80}-\u{2FF}\u{FF01}-\u{FF5E}]{1,24}@[a-zA-Z0-9.\\-_\u{E0}-\u{FF}]{1,24}"
        ) {
            if let Ok(address) = EmailAddress::parse(&raw) {
                proptest::prop_assert!(
                    lettre::Address::from_str(address.as_str()).is_ok(),
                    "{raw:?} became {:?}, which lettre refuses",
                    address.as_str()
                );
            }
        }

        /// Plain addresses of the usual shape are accepted.
        #[test]
        fn ordinary_addresses_are_accepted(
            local in "[a-z0-9]{1,10}([._+-][a-z0-9]{1,10}){0,2}",
            domain in "[a-z0-9]{1,10}(-[a-z0-9]{1,5})?\\.[a-z]{2,6}",
        ) {
            let raw = format!("{local}@{domain}");
            proptest::prop_assert!(EmailAddress::parse(&raw).is_ok(), "{raw:?}");
        }
    }

    #[test]
    fn debug_shows_only_the_domain() {
        let address = EmailAddress::parse("secret.person@example.com").unwrap();
        assert_eq!(format!("{address:?}"), "EmailAddress(…@example.com)");
    }
}
