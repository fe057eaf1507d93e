//! What every form page shares: single-valued fields, the limit per client address
//! and the ids in paths.

use uuid::Uuid;

use crate::http::error::GatewayError;
use crate::http::request_context::ClientAddress;
use crate::state::AppState;
use service::intake::{self, BucketLimit, Intake, Record};

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

/// Records `record` (if any) for a POST from `client`, counted towards
/// `limits.forgot_per_address` per window in the `kind` bucket, and towards `also`;
/// refused with 429 past a limit. The counters are in the database, so the limits
/// hold across instances; the write joins the intake's group commit.
pub async fn record_limited(
    state: &AppState,
    kind: &str,
    client: ClientAddress,
    also: Vec<BucketLimit>,
    record: Option<Record>,
) -> Result<(), GatewayError> {
    let mut limits = vec![BucketLimit {
        bucket: format!("{kind}:address:{}", client.limit_key()),
        // No address to count against (never the case behind a listener).
        max: match client.0 {
            Some(_) => state.settings.limits.forgot_per_address,
            None => u64::MAX,
        },
        window: state.settings.limits.window(),
    }];
    limits.extend(also);
    intake::submit(&state.services.intake, Intake { limits, record }).await?;
    Ok(())
}
