//! SMTP URLs in our convention, and which SMTP failures deserve a retry.

use crate::NotificationError;
use crate::transport::{SendFailure, recipient_domain};

/// Turns our URL into lettre's: lettre reads a bare `smtp://` as plain text, while
/// ours means STARTTLS-required, so a missing `tls` parameter must not silently
/// send passwords and reset links in the clear.
pub(super) fn lettre_url(url: &str) -> Result<String, NotificationError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut tls = None;
    let mut others = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        match pair.split_once('=') {
            Some(("tls", value)) => tls = Some(value),
            _ => others.push(pair),
        }
    }
    let scheme = base.split_once("://").map(|(scheme, _)| scheme);
    let lettre_tls = match (scheme, tls) {
        (Some("smtps"), None) => None,
        (Some("smtp"), None | Some("required" | "starttls")) => Some("required"),
        (Some("smtp"), Some("opportunistic")) => Some("opportunistic"),
        (Some("smtp"), Some("none")) => None,
        _ => {
            return Err(NotificationError::Transport(
                "mail.smtp_url must be smtp://host[:port][?tls=required|opportunistic|none] \
                 or smtps://host[:port]"
                    .to_owned(),
            ));
        }
    };
    if let Some(tls) = lettre_tls {
        others.push(match tls {
            "required" => "tls=required",
            _ => "tls=opportunistic",
        });
    }
    Ok(if others.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", others.join("&"))
    })
}

/// 5xx replies are final; everything else (4xx, timeouts, refused or dropped
/// connections, TLS trouble) may pass on a later attempt. The recipient's address
/// is replaced by its domain, since the text is logged and shown to operators.
pub(super) fn classify(error: &lettre::transport::smtp::Error, recipient: &str) -> SendFailure {
    let text = redact(&storage::error_chain(error), recipient);
    if error.is_permanent() {
        SendFailure::Permanent(text)
    } else {
        SendFailure::Transient(text)
    }
}

pub(crate) fn redact(text: &str, recipient: &str) -> String {
    if recipient.is_empty() {
        return text.to_owned();
    }
    text.replace(recipient, &format!("…@{}", recipient_domain(recipient)))
}

#[cfg(test)]
mod tests {
    use super::{lettre_url, redact};

    #[test]
    fn bare_smtp_means_starttls_required() {
        assert_eq!(
            lettre_url("smtp://user:pw@mail.test").unwrap(),
            "smtp://user:pw@mail.test?tls=required"
        );
        assert_eq!(
            lettre_url("smtp://mail.test:2525?tls=opportunistic").unwrap(),
            "smtp://mail.test:2525?tls=opportunistic"
        );
        assert_eq!(
            lettre_url("smtp://127.0.0.1:25?tls=none").unwrap(),
            "smtp://127.0.0.1:25"
        );
        assert_eq!(
            lettre_url("smtps://mail.test").unwrap(),
            "smtps://mail.test"
        );
        assert!(lettre_url("http://mail.test").is_err());
        assert!(lettre_url("smtp://mail.test?tls=maybe").is_err());
    }

    #[test]
    fn errors_keep_only_the_domain() {
        assert_eq!(
            redact("550 <ann@acme.test> unknown", "ann@acme.test"),
            "550 <…@acme.test> unknown"
        );
    }
}
