//! What every form page shares: the CSRF check, single-valued fields, the limit per
//! client address and the ids in paths.

use chrono::{DateTime, Utc};
use identity::{RateLimit, count_events, record_event};
use poem::web::CsrfVerifier;
use uuid::Uuid;

use crate::app::AppState;
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

/// The one value of `name` in a form, refusing a field sent twice: two `email`
/// values were how GitLab's CVE-2023-7028 mailed a reset link to an attacker.
pub fn single<'a>(fields: &'a [(String, String)], name: &str) -> Result<&'a str, GatewayError> {
    let mut values = fields
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str());
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        _ => Err(GatewayError::BadForm),
    }
}

/// Counts a POST from `address` towards `limits.forgot_per_address` per window in
/// the `kind` bucket, refusing it with 429 past the limit. The state is in the
/// database, so the limit holds across instances.
pub async fn throttle_address(
    state: &AppState,
    kind: &str,
    address: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), GatewayError> {
    let Some(address) = address else {
        return Ok(());
    };
    let limits = &state.settings.limits;
    let bucket = format!("{kind}:address:{address}");
    let limit = RateLimit {
        max: limits.forgot_per_address,
        window: chrono::Duration::minutes(limits.window_minutes),
    };
    if let Err(limited) = count_events(&state.db, &bucket, limit, now).await? {
        return Err(GatewayError::TooManyAttempts {
            retry_after_seconds: limited.retry_after_seconds,
        });
    }
    record_event(&state.db, &bucket, now).await?;
    Ok(())
}
