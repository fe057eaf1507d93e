//! Host names as they arrive in a `Host` header, and the rules that make one usable.
//!
//! Only DNS names are hosts here: IP literals in brackets, user information, a second
//! port and every character outside `[a-z0-9.-]` are refused before anything looks a
//! firm up, so no unusual spelling can reach the resolver or its cache.

use std::fmt;

const MAX_HOST_LENGTH: usize = 253;
const MAX_LABEL_LENGTH: usize = 63;

/// A normalised DNS host name: lower-case, no port, no trailing dot.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

/// Why a host is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("the host is empty")]
    Empty,
    #[error("the host carries user information")]
    Userinfo,
    #[error("the host is an IP literal")]
    IpLiteral,
    #[error("the host has more than one port")]
    SeveralPorts,
    #[error("the host's port is not a number from 0 to 65535")]
    InvalidPort,
    #[error("a port is not allowed here")]
    PortNotAllowed,
    #[error("the host has a character outside a-z, 0-9, '.' and '-'")]
    BadCharacter,
    #[error("the host has an empty label")]
    EmptyLabel,
    #[error("a label of the host is longer than {MAX_LABEL_LENGTH} characters")]
    LabelTooLong,
    #[error("a label of the host starts or ends with a hyphen")]
    HyphenAtLabelEdge,
    #[error("the host is longer than {MAX_HOST_LENGTH} characters")]
    TooLong,
    #[error("a domain is written without a trailing dot")]
    TrailingDot,
}

impl HostName {
    /// Parses the value of a `Host` header (or an HTTP/2 `:authority`): an optional
    /// port is checked and dropped.
    pub fn from_header(raw: &str) -> Result<Self, HostError> {
        let (name, port) = split_port(raw)?;
        if let Some(port) = port {
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HostError::InvalidPort);
            }
            if port.parse::<u32>().map_or(true, |p| p > 65_535) {
                return Err(HostError::InvalidPort);
            }
        }
        Self::parse_name(name)
    }

    /// Parses a bare host name, as written in configuration or given as a custom
    /// domain: a port is an error.
    pub fn parse(raw: &str) -> Result<Self, HostError> {
        match split_port(raw)? {
            (name, None) => Self::parse_name(name),
            (_, Some(_)) => Err(HostError::PortNotAllowed),
        }
    }

    /// Parses a domain as an operator writes one, such as a firm's custom domain: as
    /// [`HostName::parse`], without the trailing dot of a fully qualified name, so
    /// that the one spelling documented is the one accepted.
    pub fn parse_domain(raw: &str) -> Result<Self, HostError> {
        if raw.ends_with('.') {
            return Err(HostError::TrailingDot);
        }
        Self::parse(raw)
    }

    fn parse_name(name: &str) -> Result<Self, HostError> {
        if name.is_empty() {
            return Err(HostError::Empty);
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(HostError::BadCharacter);
        }
        for label in name.split('.') {
            if label.is_empty() {
                return Err(HostError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LENGTH {
                return Err(HostError::LabelTooLong);
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(HostError::HyphenAtLabelEdge);
            }
        }
        if name.len() > MAX_HOST_LENGTH {
            return Err(HostError::TooLong);
        }
        Ok(Self(name.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The single label in front of `parent` when this host is `label.parent`:
    /// `acme` for `acme.example.com` under `example.com`, `None` for
    /// `a.b.example.com` or `example.com` itself.
    pub fn single_label_under(&self, parent: &HostName) -> Option<&str> {
        let prefix = self.0.strip_suffix(parent.as_str())?.strip_suffix('.')?;
        (!prefix.is_empty() && !prefix.contains('.')).then_some(prefix)
    }
}

/// Splits `host[:port]`, refusing what a DNS name with a port cannot look like.
fn split_port(raw: &str) -> Result<(&str, Option<&str>), HostError> {
    if raw.is_empty() {
        return Err(HostError::Empty);
    }
    if raw.contains('@') {
        return Err(HostError::Userinfo);
    }
    if raw.starts_with('[') {
        return Err(HostError::IpLiteral);
    }
    let mut parts = raw.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    match (parts.next(), parts.next()) {
        (None, _) => Ok((name, None)),
        (Some(port), None) => Ok((name, Some(port))),
        (Some(_), Some(_)) => Err(HostError::SeveralPorts),
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostName({})", self.0)
    }
}

impl AsRef<str> for HostName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::{HostError, HostName};

    /// Every way a `Host` header can arrive, hostile spellings included.
    #[test]
    fn host_header_table() {
        let long_label = "a".repeat(300);
        let label_63 = "b".repeat(63);
        let label_64 = "c".repeat(64);
        let four_labels_of_63 = [label_63.as_str(); 4].join(".");
        let too_long_host = format!("{four_labels_of_63}.example.com");
        let with_long_label = format!("{long_label}.localhost");
        let at_label_limit = format!("{label_63}.localhost");
        let over_label_limit = format!("{label_64}.localhost");

        let cases: Vec<(&str, Result<&str, HostError>)> = vec![
            ("acme.localhost", Ok("acme.localhost")),
            ("acme.localhost:8080", Ok("acme.localhost")),
            ("ACME.LOCALHOST.", Ok("acme.localhost")),
            ("Acme.Example.Com:443", Ok("acme.example.com")),
            ("acme.localhost.:8080", Ok("acme.localhost")),
            ("localhost", Ok("localhost")),
            ("xn--bcher-kva.example", Ok("xn--bcher-kva.example")),
            ("127.0.0.1:8080", Ok("127.0.0.1")),
            ("a-b.c-d.example", Ok("a-b.c-d.example")),
            (&at_label_limit, Ok(&at_label_limit)),
            ("acme.localhost:0", Ok("acme.localhost")),
            ("acme.localhost:65535", Ok("acme.localhost")),
            ("", Err(HostError::Empty)),
            (":8080", Err(HostError::Empty)),
            (".", Err(HostError::EmptyLabel)),
            ("acme.localhost:8080:90", Err(HostError::SeveralPorts)),
            ("acme.localhost@evil.test", Err(HostError::Userinfo)),
            ("user:pass@acme.localhost", Err(HostError::Userinfo)),
            ("[::1]:8080", Err(HostError::IpLiteral)),
            ("[::1]", Err(HostError::IpLiteral)),
            ("::1", Err(HostError::SeveralPorts)),
            ("acme.localhost:", Err(HostError::InvalidPort)),
            ("acme.localhost:http", Err(HostError::InvalidPort)),
            ("acme.localhost:65536", Err(HostError::InvalidPort)),
            ("acme.localhost:123456", Err(HostError::InvalidPort)),
            ("acme.localhost:-1", Err(HostError::InvalidPort)),
            ("acmé.localhost", Err(HostError::BadCharacter)),
            ("аcme.localhost", Err(HostError::BadCharacter)),
            ("acme.local host", Err(HostError::BadCharacter)),
            ("acme.localhost\r\nX-Injected", Err(HostError::BadCharacter)),
            ("acme_tax.localhost", Err(HostError::BadCharacter)),
            ("acme.localhost/evil", Err(HostError::BadCharacter)),
            ("acme%2elocalhost", Err(HostError::BadCharacter)),
            ("acme.localhost\0", Err(HostError::BadCharacter)),
            ("*.localhost", Err(HostError::BadCharacter)),
            ("acme..localhost", Err(HostError::EmptyLabel)),
            (".acme.localhost", Err(HostError::EmptyLabel)),
            ("acme.localhost..", Err(HostError::EmptyLabel)),
            (&with_long_label, Err(HostError::LabelTooLong)),
            (&over_label_limit, Err(HostError::LabelTooLong)),
            (&too_long_host, Err(HostError::TooLong)),
            ("-acme.localhost", Err(HostError::HyphenAtLabelEdge)),
            ("acme-.localhost", Err(HostError::HyphenAtLabelEdge)),
        ];
        assert!(cases.len() >= 30);
        for (raw, expected) in cases {
            let parsed = HostName::from_header(raw);
            assert_eq!(
                parsed.as_ref().map(HostName::as_str),
                expected.as_deref(),
                "Host: {raw:?}"
            );
        }
    }

    #[test]
    fn a_configured_name_takes_no_port() {
        assert_eq!(
            HostName::parse("example.com").unwrap().as_str(),
            "example.com"
        );
        assert_eq!(
            HostName::parse("example.com:80"),
            Err(HostError::PortNotAllowed)
        );
    }

    #[test]
    fn finds_the_single_label_under_a_parent() {
        let base = HostName::parse("example.com").unwrap();
        let host = |s| HostName::parse(s).unwrap();
        assert_eq!(
            host("acme.example.com").single_label_under(&base),
            Some("acme")
        );
        assert_eq!(host("a.acme.example.com").single_label_under(&base), None);
        assert_eq!(host("example.com").single_label_under(&base), None);
        assert_eq!(host("acmeexample.com").single_label_under(&base), None);
        assert_eq!(host("acme.example.org").single_label_under(&base), None);
    }
}
