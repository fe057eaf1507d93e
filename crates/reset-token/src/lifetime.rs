//! How long a token lives: the firm's choice, clamped to safe bounds.

use chrono::Duration;

use crate::TokenPurpose;

pub const MIN_RESET_MINUTES: i64 = 5;
pub const MAX_RESET_MINUTES: i64 = 24 * 60;
/// Invitations wait for people to find the email; resets must not.
const INVITE_HOURS: i64 = 72;

/// The lifetime of a new token of `purpose`, given the firm's reset lifetime in
/// minutes (which operators may set anywhere; the bounds hold regardless).
pub fn token_lifetime(purpose: TokenPurpose, reset_minutes: i64) -> Duration {
    match purpose {
        TokenPurpose::Invite => Duration::hours(INVITE_HOURS),
        TokenPurpose::Reset | TokenPurpose::TemporaryPassword => {
            Duration::minutes(reset_minutes.clamp(MIN_RESET_MINUTES, MAX_RESET_MINUTES))
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::token_lifetime;
    use crate::TokenPurpose;

    #[test]
    fn lifetimes_are_clamped() {
        assert_eq!(
            token_lifetime(TokenPurpose::Reset, 15),
            Duration::minutes(15)
        );
        assert_eq!(token_lifetime(TokenPurpose::Reset, 1), Duration::minutes(5));
        assert_eq!(
            token_lifetime(TokenPurpose::Reset, -3),
            Duration::minutes(5)
        );
        assert_eq!(
            token_lifetime(TokenPurpose::TemporaryPassword, 100_000),
            Duration::hours(24)
        );
        assert_eq!(
            token_lifetime(TokenPurpose::Invite, 15),
            Duration::hours(72)
        );
    }
}
