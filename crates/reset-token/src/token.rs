//! The token as it travels in a URL, and what it is for.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::TokenError;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Set a new password after "Reset Password" or "Forgot your password?".
    Reset,
    /// Set a first password after an invitation.
    Invite,
    /// Receive a generated password by email (the firm's `temporary_password` mode).
    TemporaryPassword,
}

impl TokenPurpose {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::Invite => "invite",
            Self::TemporaryPassword => "temporary-password",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "reset" => Some(Self::Reset),
            "invite" => Some(Self::Invite),
            "temporary-password" => Some(Self::TemporaryPassword),
            _ => None,
        }
    }
}

/// The secret part is this many bytes: 256 bits, well over the 128 required.
pub(crate) const SECRET_BYTES: usize = 32;

/// A token as written in a link: `{id}.{secret}`. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlToken {
    pub(crate) id: Uuid,
    pub(crate) secret: [u8; SECRET_BYTES],
}

impl UrlToken {
    pub(crate) fn generate() -> Result<Self, TokenError> {
        let mut secret = [0u8; SECRET_BYTES];
        getrandom::fill(&mut secret).map_err(|error| TokenError::Random(error.to_string()))?;
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).map_err(|error| TokenError::Random(error.to_string()))?;
        Ok(Self {
            id: uuid::Builder::from_random_bytes(id).into_uuid(),
            secret,
        })
    }

    /// Reads a token from a URL; anything malformed is `None`, exactly like a token
    /// that does not exist.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() > 128 {
            return None;
        }
        let (id, secret) = raw.split_once('.')?;
        let id = URL_SAFE_NO_PAD.decode(id).ok()?;
        let secret = URL_SAFE_NO_PAD.decode(secret).ok()?;
        Some(Self {
            id: Uuid::from_slice(&id).ok()?,
            secret: secret.try_into().ok()?,
        })
    }

    /// The text to put in a URL.
    pub fn expose(&self) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(self.id.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.secret)
        )
    }

    /// The token's id, which is not secret: logs and audit entries may name it.
    pub fn id(&self) -> Uuid {
        self.id
    }
}

impl fmt::Debug for UrlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UrlToken({}.…)", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::UrlToken;

    #[test]
    fn a_token_round_trips_through_its_url_form() {
        let token = UrlToken::generate().unwrap();
        let text = token.expose();
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        );
        assert!(!text.contains('='), "no padding");
        assert_eq!(UrlToken::parse(&text), Some(token.clone()));
        assert!(
            !format!("{token:?}").contains(&text[23..]),
            "Debug hides the secret"
        );
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(
            UrlToken::generate().unwrap().expose(),
            UrlToken::generate().unwrap().expose()
        );
    }

    #[test]
    fn malformed_tokens_are_none() {
        let good = UrlToken::generate().unwrap().expose();
        let (id, secret) = good.split_once('.').unwrap();
        for bad in [
            String::new(),
            "nodot".to_owned(),
            format!("{id}."),
            format!(".{secret}"),
            format!("{id}.{}", &secret[1..]),
            format!("{id}.{secret}x"),
            format!("{id}.{secret}="),
            format!("{id}+.{secret}"),
            "a".repeat(500),
        ] {
            assert_eq!(UrlToken::parse(&bad), None, "{bad:?}");
        }
    }
}
