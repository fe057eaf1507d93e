//! A firm's rules in one value: how long its reset links live, whether a reset sends a
//! link or a temporary password, and its password rules. Every page, email and token
//! takes them from here, so the bounds are checked in one place.

use identity::PasswordPolicy;
use reset_token::{MAX_RESET_MINUTES, MIN_RESET_MINUTES};
use tenancy::{ResetMode, Tenant};

use crate::Services;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmPolicy {
    /// Minutes a reset link (or temporary password) lives, within the platform's bounds.
    pub reset_minutes: i64,
    pub reset_mode: ResetMode,
    pub password: PasswordPolicy,
}

impl FirmPolicy {
    /// The firm's own choices where it made them, the platform's otherwise.
    pub fn of(services: &Services, tenant: &Tenant) -> Self {
        let config = &services.config;
        let settings = &tenant.settings;
        let reset_minutes = settings
            .reset_link_minutes
            .unwrap_or(i64::from(config.default_reset_minutes))
            .clamp(MIN_RESET_MINUTES, MAX_RESET_MINUTES);
        let min_length = settings
            .min_password_length
            .and_then(|length| usize::try_from(length).ok())
            .unwrap_or(config.password_policy.min_length);
        Self {
            reset_minutes,
            reset_mode: settings.reset_mode,
            password: PasswordPolicy { min_length },
        }
    }
}
