//! Protection against cross-site request forgery: the signed double-submit cookie of
//! the OWASP cheat sheet.
//!
//! A browser gets a random value in a cookie (`latchkey_csrf`; `__Host-latchkey_csrf`
//! over https, so that no sibling subdomain can plant one); every form carries
//! HMAC-SHA256(key, that value). A POST is accepted only when its form's token is the
//! MAC of the cookie it came with. Another site can make a browser send the cookie
//! but can read neither it nor the page, so it cannot produce the token.
//!
//! It replaces poem's middleware, which minted a token pair (AES-GCM and a read of
//! the OS random generator) and re-set the cookie on every request, forms or not: a
//! third of what `GET /login` cost. Here a page pays only when it asks for a token
//! (a keyed hash), and only a browser without the cookie gets a new one, from the
//! thread's CSPRNG.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use poem::web::cookie::{Cookie, SameSite};
use poem::{FromRequest, Request, RequestBody};
use subtle::ConstantTimeEq;

use crate::http::error::GatewayError;
use crate::state::AppState;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Random bytes in a cookie value.
const COOKIE_BYTES: usize = 16;

/// The MAC key and where the cookie goes.
#[derive(Clone)]
pub struct CsrfKey {
    mac: HmacSha256,
    https: bool,
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrfKey").finish_non_exhaustive()
    }
}

impl CsrfKey {
    pub fn new(key: [u8; 32], https: bool) -> Self {
        Self {
            mac: <HmacSha256 as KeyInit>::new_from_slice(&key).expect("HMAC takes any key"),
            https,
        }
    }

    /// The cookie's name: `__Host-` over https, which browsers accept only Secure,
    /// host-only and for the whole site.
    pub fn cookie_name(&self) -> &'static str {
        if self.https {
            "__Host-latchkey_csrf"
        } else {
            "latchkey_csrf"
        }
    }

    fn token_for(&self, cookie_value: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac_of(cookie_value))
    }

    fn mac_of(&self, cookie_value: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(b"latchkey csrf v2\0");
        mac.update(cookie_value.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The cookie this request came with, if it is one we could have set.
    fn presented(&self, req: &Request) -> Option<String> {
        req.cookie()
            .get(self.cookie_name())
            .map(|cookie| cookie.value_str().to_owned())
            .filter(|value| is_cookie_value(value))
    }

    fn new_cookie(&self, value: &str) -> Cookie {
        let mut cookie = Cookie::new_with_str(self.cookie_name(), value);
        cookie.set_http_only(true);
        cookie.set_secure(self.https);
        // Lax, not Strict: a person arriving from webmail would come without a Strict
        // cookie, be given a new one, and every form already open on this host would
        // then fail. The token in the form is what protects; Lax still keeps the cookie
        // off cross-site posts.
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path("/");
        cookie
    }
}

fn is_cookie_value(value: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(value)
        .is_ok_and(|bytes| bytes.len() == COOKIE_BYTES)
}

fn csrf_key(req: &Request) -> poem::Result<&CsrfKey> {
    req.data::<AppState>()
        .map(|state| &state.csrf)
        .ok_or_else(|| GatewayError::internal(std::io::Error::other("no app state")).into())
}

/// The token for the forms of the page being rendered. A browser without the cookie
/// is given one with the answer.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl<'a> FromRequest<'a> for CsrfToken {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let key = csrf_key(req)?;
        let value = match key.presented(req) {
            Some(value) => value,
            None => {
                let mut bytes = [0u8; COOKIE_BYTES];
                // Once per browser, on its first form: the system call costs nothing
                // that matters, and spares a second random-number crate.
                getrandom::fill(&mut bytes).map_err(|error| {
                    GatewayError::internal(std::io::Error::other(error.to_string()))
                })?;
                let value = URL_SAFE_NO_PAD.encode(bytes);
                req.cookie().add(key.new_cookie(&value));
                value
            }
        };
        Ok(Self(key.token_for(&value)))
    }
}

/// Checks the token a form came back with against the cookie it came with.
#[derive(Debug, Clone)]
pub struct CsrfVerifier {
    expected: Option<[u8; 32]>,
}

impl CsrfVerifier {
    pub fn is_valid(&self, token: &str) -> bool {
        let Some(expected) = &self.expected else {
            return false;
        };
        URL_SAFE_NO_PAD
            .decode(token)
            .is_ok_and(|presented| bool::from(presented.as_slice().ct_eq(expected)))
    }
}

impl<'a> FromRequest<'a> for CsrfVerifier {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let key = csrf_key(req)?;
        Ok(Self {
            expected: key.presented(req).map(|value| key.mac_of(&value)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{CsrfKey, is_cookie_value};

    #[test]
    fn tokens_are_bound_to_the_key_and_the_cookie() {
        let key = CsrfKey::new([7; 32], false);
        let other = CsrfKey::new([8; 32], false);
        let cookie = "AAAAAAAAAAAAAAAAAAAAAA";
        assert!(is_cookie_value(cookie));
        let token = key.token_for(cookie);
        assert_eq!(token, key.token_for(cookie));
        assert_ne!(token, other.token_for(cookie));
        assert_ne!(token, key.token_for("BAAAAAAAAAAAAAAAAAAAAA"));
        assert!(!is_cookie_value("too short"));
        assert!(!is_cookie_value("AAAAAAAAAAAAAAAAAAAAAA=="));
    }

    #[test]
    fn the_cookie_is_host_only_over_https() {
        assert_eq!(
            CsrfKey::new([0; 32], true).cookie_name(),
            "__Host-latchkey_csrf"
        );
        assert_eq!(CsrfKey::new([0; 32], false).cookie_name(), "latchkey_csrf");
    }
}
