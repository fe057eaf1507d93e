//! The HMAC keys that bind a token to its firm and purpose.

use std::fmt;

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use tenancy::TenantId;

use crate::{TokenPurpose, UrlToken};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The current key, used for new tokens, and the previous ones, still accepted.
#[derive(Clone)]
pub struct TokenKeys {
    current: Vec<u8>,
    previous: Vec<Vec<u8>>,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenKeys(current, {} previous)", self.previous.len())
    }
}

impl TokenKeys {
    pub fn new(current: &[u8], previous: &[&[u8]]) -> Self {
        Self {
            current: current.to_vec(),
            previous: previous.iter().map(|key| key.to_vec()).collect(),
        }
    }

    /// The stored form of `token` under the current key, as hex.
    pub(crate) fn digest(
        &self,
        tenant: TenantId,
        purpose: TokenPurpose,
        token: &UrlToken,
    ) -> String {
        hex(&mac(&self.current, tenant, purpose, token)
            .finalize()
            .into_bytes())
    }

    /// Whether `stored` is the digest of `token` under any accepted key, compared in
    /// constant time.
    pub(crate) fn matches(
        &self,
        stored: &str,
        tenant: TenantId,
        purpose: TokenPurpose,
        token: &UrlToken,
    ) -> bool {
        let Some(stored) = unhex(stored) else {
            return false;
        };
        std::iter::once(&self.current)
            .chain(&self.previous)
            .any(|key| {
                mac(key, tenant, purpose, token)
                    .verify_slice(&stored)
                    .is_ok()
            })
    }
}

/// HMAC over fixed-width fields, with the one variable-width field (the purpose)
/// terminated, so no two different inputs share an encoding.
fn mac(key: &[u8], tenant: TenantId, purpose: TokenPurpose, token: &UrlToken) -> HmacSha256 {
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(tenant.as_uuid().as_bytes());
    mac.update(purpose.as_str().as_bytes());
    mac.update(&[0]);
    mac.update(token.id.as_bytes());
    mac.update(&token.secret);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use tenancy::TenantId;

    use super::TokenKeys;
    use crate::{TokenPurpose, UrlToken};

    #[test]
    fn a_digest_is_bound_to_key_firm_and_purpose() {
        let keys = TokenKeys::new(b"current key", &[]);
        let token = UrlToken::generate().unwrap();
        let firm = TenantId::generate();
        let stored = keys.digest(firm, TokenPurpose::Reset, &token);
        assert_eq!(stored.len(), 64);
        assert!(keys.matches(&stored, firm, TokenPurpose::Reset, &token));
        assert!(!keys.matches(&stored, TenantId::generate(), TokenPurpose::Reset, &token));
        assert!(!keys.matches(&stored, firm, TokenPurpose::Invite, &token));
        assert!(!keys.matches(
            &stored,
            firm,
            TokenPurpose::Reset,
            &UrlToken::generate().unwrap()
        ));
        assert!(!TokenKeys::new(b"another key", &[]).matches(
            &stored,
            firm,
            TokenPurpose::Reset,
            &token
        ));
        assert!(!keys.matches("zz", firm, TokenPurpose::Reset, &token));
    }

    #[test]
    fn previous_keys_still_verify_after_a_rotation() {
        let old = TokenKeys::new(b"old key", &[]);
        let token = UrlToken::generate().unwrap();
        let firm = TenantId::generate();
        let stored = old.digest(firm, TokenPurpose::Reset, &token);
        let rotated = TokenKeys::new(b"new key", &[b"old key"]);
        assert!(rotated.matches(&stored, firm, TokenPurpose::Reset, &token));
        assert_ne!(
            rotated.digest(firm, TokenPurpose::Reset, &token),
            stored,
            "new tokens use the new key"
        );
    }
}
