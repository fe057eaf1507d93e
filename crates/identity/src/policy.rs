//! The password policy, after NIST SP 800-63B: a minimum length, long passphrases
//! welcome, no composition rules, and no password that attackers try first.

use std::collections::HashSet;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

use crate::EmailAddress;

/// The longest password accepted; argon2 takes any length, this only bounds the work.
pub const MAX_LENGTH: usize = 128;

/// The 10,000 most common passwords; `data/README.md` names the source.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .collect()
});

/// One broken rule, with the message a person sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    #[error("Use at most {MAX_LENGTH} characters.")]
    TooLong,
    #[error("This password is too common. Choose one that is harder to guess.")]
    Common,
    #[error("Do not use your email address as your password.")]
    IsEmail,
    #[error("The two passwords do not match.")]
    Mismatch,
}

/// A password as it is checked and hashed: NFKC (NIST SP 800-63B 5.1.1.2), so the
/// same characters typed on another keyboard or pasted from a manager match.
pub fn normalise_password(password: &str) -> String {
    password.nfkc().collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
}

impl PasswordPolicy {
    /// Every rule `password` breaks, in the order a person should fix them.
    pub fn check(
        &self,
        password: &str,
        confirmation: &str,
        email: &EmailAddress,
    ) -> Vec<PolicyViolation> {
        // Length counts characters as people see them, after the same normalisation a
        // password manager or another keyboard would produce; the hash sees the same.
        let normalised = normalise_password(password);
        let length = normalised.chars().count();
        let mut violations = Vec::new();
        if length < self.min_length {
            violations.push(PolicyViolation::TooShort(self.min_length));
        }
        if length > MAX_LENGTH {
            violations.push(PolicyViolation::TooLong);
        }
        let lowered = normalised.to_lowercase();
        if COMMON_PASSWORDS.contains(lowered.as_str()) {
            violations.push(PolicyViolation::Common);
        }
        let local_part = email.as_str().split('@').next().unwrap_or_default();
        if lowered == email.as_str() || (local_part.chars().count() >= 4 && lowered == local_part) {
            violations.push(PolicyViolation::IsEmail);
        }
        if normalised != normalise_password(confirmation) {
            violations.push(PolicyViolation::Mismatch);
        }
        violations
    }
}

#[cfg(test)]
mod tests {
    use super::{COMMON_PASSWORDS, PasswordPolicy, PolicyViolation};
    use crate::EmailAddress;

    #[test]
    fn the_shipped_list_has_ten_thousand_entries() {
        assert_eq!(COMMON_PASSWORDS.len(), 10_000);
        assert!(COMMON_PASSWORDS.contains("password1"));
    }

    #[test]
    fn policy_table() {
        let policy = PasswordPolicy { min_length: 8 };
        let email = EmailAddress::parse("body.boom@example.com").unwrap();
        let long_ok = "a".repeat(60) + " correct horse";
        let too_long = "x".repeat(129);
        let cases: Vec<(&str, &str, Vec<PolicyViolation>)> = vec![
            ("correct horse battery", "correct horse battery", vec![]),
            ("Tr0ub4dor&3x", "Tr0ub4dor&3x", vec![]),
            ("alllowercaseletters", "alllowercaseletters", vec![]),
            ("短いけど八文字以上です", "短いけど八文字以上です", vec![]),
            (&long_ok, &long_ok, vec![]),
            ("short", "short", vec![PolicyViolation::TooShort(8)]),
            (
                "1234567",
                "1234567",
                vec![PolicyViolation::TooShort(8), PolicyViolation::Common],
            ),
            (&too_long, &too_long, vec![PolicyViolation::TooLong]),
            ("password1", "password1", vec![PolicyViolation::Common]),
            ("PASSWORD1", "PASSWORD1", vec![PolicyViolation::Common]),
            ("iloveyou", "iloveyou", vec![PolicyViolation::Common]),
            ("qwertyuiop", "qwertyuiop", vec![PolicyViolation::Common]),
            (
                "body.boom@example.com",
                "body.boom@example.com",
                vec![PolicyViolation::IsEmail],
            ),
            (
                "Body.Boom@Example.com",
                "Body.Boom@Example.com",
                vec![PolicyViolation::IsEmail],
            ),
            ("body.boom", "body.boom", vec![PolicyViolation::IsEmail]),
            (
                "correct horse battery",
                "correct horse batery",
                vec![PolicyViolation::Mismatch],
            ),
        ];
        for (password, confirmation, expected) in cases {
            assert_eq!(
                policy.check(password, confirmation, &email),
                expected,
                "{password:?}"
            );
        }
    }

    #[test]
    fn the_minimum_follows_configuration() {
        let email = EmailAddress::parse("a@example.com").unwrap();
        let policy = PasswordPolicy { min_length: 12 };
        assert_eq!(
            policy.check("elevenchars", "elevenchars", &email),
            vec![PolicyViolation::TooShort(12)]
        );
        assert!(
            policy
                .check("twelve chars", "twelve chars", &email)
                .is_empty()
        );
    }
}
