//! What must never be in a log line: a reset token, a password, a full email address.
//! The end-to-end run keeps the server's JSON log and checks every line of it.

/// Why a log line is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leak {
    pub(crate) line: usize,
    pub(crate) what: &'static str,
}

/// Every leak in `log`: each JSON log line is checked for a token (22 base64url
/// characters, a dot, 43 more), an email address, an argon2 hash and any of
/// `passwords`. Lines that are not JSON (the start-up banner, which prints the public
/// demo credentials on purpose) are not log lines.
pub(crate) fn leaks(log: &str, passwords: &[&str]) -> Vec<Leak> {
    let mut found = Vec::new();
    for (index, line) in log.lines().enumerate() {
        if !line.trim_start().starts_with('{') {
            continue;
        }
        let mut leak = |what| {
            found.push(Leak {
                line: index + 1,
                what,
            })
        };
        if words(line).any(is_token) {
            leak("a reset token");
        }
        if words(line).any(is_email_address) {
            leak("an email address");
        }
        if line.contains("$argon2") {
            leak("a password hash");
        }
        if passwords.iter().any(|password| line.contains(password)) {
            leak("a password");
        }
    }
    found
}

/// Runs of the characters tokens and addresses are made of.
fn words(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.+@%".contains(c)))
        .filter(|word| !word.is_empty())
}

fn is_base64url(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn is_token(word: &str) -> bool {
    word.match_indices('.').any(|(dot, _)| {
        let (id, secret) = (&word[..dot], &word[dot + 1..]);
        id.len() >= 22
            && secret.len() >= 43
            && is_base64url(&id[id.len() - 22..])
            && is_base64url(&secret[..43])
    })
}

fn is_email_address(word: &str) -> bool {
    let Some((local, domain)) = word.rsplit_once('@') else {
        return false;
    };
    let local = local.trim_start_matches(['.', '-']);
    let domain = domain.trim_end_matches('.');
    !local.is_empty()
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::leaks;

    #[test]
    fn tokens_addresses_hashes_and_passwords_are_found() {
        let log = [
            r#"{"message":"reset link opened","token_id":"0190a000-0000-7000-8000-000000000000"}"#,
            r#"{"message":"email queued","recipient_domain":"acme.test"}"#,
            r#"{"message":"x","url":"http://acme.localhost/reset/AZCgAAAAAHAAgAAAAAAAAA.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"}"#,
            r#"{"message":"sign-in refused","email":"body.boom@acme.test"}"#,
            r#"{"hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}"#,
            r#"{"message":"typed a fresh e2e passphrase"}"#,
            "  staff sign-in: http://acme.localhost/staff/login as admin@acme.test / secret",
        ]
        .join("\n");
        let found: Vec<(usize, &str)> = leaks(&log, &["a fresh e2e passphrase"])
            .into_iter()
            .map(|leak| (leak.line, leak.what))
            .collect();
        assert_eq!(
            found,
            [
                (3, "a reset token"),
                (4, "an email address"),
                (5, "a password hash"),
                (6, "a password"),
            ]
        );
    }
}
