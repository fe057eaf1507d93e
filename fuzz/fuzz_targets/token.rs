//! `UrlToken::parse`, which reads every reset, invitation and temporary-password link
//! and the reset cookie.
//!
//! Properties:
//! - parsing any text never panics;
//! - a token has one spelling: whatever parses is exactly what `expose` writes back,
//!   so no second link (padding, stray bits, other alphabet) opens the same token;
//! - every id and secret written by `expose` parses back to the same token;
//! - `Debug` never shows the secret.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use reset_token::UrlToken;

const ID_BYTES: usize = 16;
const SECRET_BYTES: usize = 32;

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = std::str::from_utf8(data)
        && let Some(token) = UrlToken::parse(raw)
    {
        assert_eq!(token.expose(), raw, "a second spelling of a token");
        assert_secret_hidden(&token, raw);
    }

    // The same bytes taken as an id and a secret, as `expose` would write them.
    if let Some(parts) = data.get(..ID_BYTES + SECRET_BYTES) {
        let (id, secret) = parts.split_at(ID_BYTES);
        let text = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(id),
            URL_SAFE_NO_PAD.encode(secret)
        );
        let token = UrlToken::parse(&text).expect("a well-formed token parses");
        assert_eq!(token.id().as_bytes(), id);
        assert_eq!(token.expose(), text);
        assert_secret_hidden(&token, &text);
    }
});

fn assert_secret_hidden(token: &UrlToken, text: &str) {
    let (_, secret) = text.split_once('.').expect("a token has a dot");
    assert!(
        !format!("{token:?}").contains(secret),
        "Debug shows the secret"
    );
}
