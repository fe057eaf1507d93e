//! What every form page shares: the CSRF check and the ids in paths.

use poem::web::CsrfVerifier;
use uuid::Uuid;

use crate::error::GatewayError;

/// Refuses a POST whose `csrf_token` field does not match the CSRF cookie.
pub fn check_csrf(verifier: &CsrfVerifier, token: &str) -> Result<(), GatewayError> {
    if verifier.is_valid(token) {
        Ok(())
    } else {
        Err(GatewayError::CsrfRejected)
    }
}

/// An id from a path. A malformed id is answered like one that does not exist.
pub fn parse_id(raw: &str) -> Result<Uuid, GatewayError> {
    Uuid::parse_str(raw).map_err(|_| GatewayError::NotFound)
}
