//! Everything that can go wrong in the identity crate.

use sea_orm::DbErr;

use crate::{EmailError, HashingBusy};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    InvalidEmail(#[from] EmailError),
    #[error("a name must be 1 to 200 characters with no control characters")]
    InvalidName,
    #[error("an account with this email address already exists in this firm")]
    EmailTaken,
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Busy(#[from] HashingBusy),
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("a stored record is unreadable: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[from] DbErr),
}

/// Trims a display name and checks it.
pub(crate) fn clean_name(raw: &str) -> Result<String, IdentityError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(IdentityError::InvalidName);
    }
    Ok(name.to_owned())
}

/// The unique index an account write can break is `(tenant_id, email)`: the firm
/// already has the address.
pub(crate) fn email_taken(error: DbErr) -> IdentityError {
    match error.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => IdentityError::EmailTaken,
        _ => error.into(),
    }
}
