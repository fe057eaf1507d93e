//! What form pages share: single-valued fields and the ids in paths.

use std::str::FromStr;

use crate::http::error::GatewayError;

/// An id from a path. A malformed id is answered like one that does not exist.
pub fn parse_id<Id: FromStr>(raw: &str) -> Result<Id, GatewayError> {
    raw.parse().map_err(|_| GatewayError::NotFound)
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
