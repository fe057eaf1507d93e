//! Single-use tokens for password resets, invitations and temporary passwords.
//!
//! A token is a short id and a 256-bit secret from the OS CSPRNG, written into a URL
//! as `{id}.{secret}` in unpadded base64url. Only HMAC-SHA256(key, firm ‖ purpose ‖ id
//! ‖ secret) is stored, so a database leak yields no usable link, and a token of one
//! firm or purpose never verifies as another's. Checking tries the current key and
//! then the previous ones, so keys can rotate while links are alive.
//!
//! Architecture invariant: redeeming is one conditional UPDATE that succeeds only when
//! it changed exactly one row, so of many concurrent redemptions exactly one wins; a
//! new token supersedes the account's older ones; time is always a parameter.

mod activity;
mod entity;
mod keys;
mod lifetime;
mod requests;
mod store;
mod token;

pub use activity::{ResetActivity, reset_activity};
pub use keys::TokenKeys;
pub use lifetime::{MAX_RESET_MINUTES, MIN_RESET_MINUTES, token_lifetime};
pub use requests::{
    NewResetRequest, RequestOutcome, ResetRequest, fail_reset_request, failed_reset_requests,
    finish_reset_request, finish_reset_requests, pending_reset_requests, record_reset_requests,
    requeue_reset_request, reset_request_depth,
};
pub use store::{
    MintedToken, Opening, RedeemError, TokenCheck, TokenRecord, TokenState, check_any_token,
    check_token, mint_token, note_opening, redeem_token, revoke_tokens,
};
pub use token::{TokenPurpose, UrlToken};

/// Everything that can go wrong below the token rules themselves.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
    #[error("a stored token is unreadable: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}
