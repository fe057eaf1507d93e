//! The one error of the use cases. The gateway maps it to a status and a page, the
//! operator API to a problem document, the CLI to a message: each in one place.

use identity::IdentityError;
use notification::NotificationError;
use sea_orm::DbErr;
use storage::GroupCommitError;
use tenancy::TenancyError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// What was asked for is not in this firm (or not at all).
    #[error("not found")]
    NotFound,
    /// Past a limit on guesses or requests: try again after the wait.
    #[error("too many attempts")]
    TooManyAttempts { retry_after_seconds: u64 },
    /// A choice in a form names nothing of the firm's (a client that is not there).
    #[error("the form names something that is not there")]
    UnknownChoice,
    #[error("the contact is disabled")]
    ContactDisabled,
    #[error("the client is disabled")]
    ClientDisabled,
    /// The account a dead message was for is gone, disabled, or of a firm no longer
    /// active: there is nobody to send a new credential to.
    #[error("the account this message was for can no longer receive a new credential")]
    NoAccount,
    #[error(transparent)]
    Tenancy(#[from] TenancyError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Notification(#[from] NotificationError),
    #[error("database error")]
    Database(#[from] DbErr),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ServiceError {
    pub fn internal(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(error))
    }

    /// The error and its sources on one line, for the log and for operators; never
    /// for a page.
    pub fn detail(&self) -> String {
        storage::error_chain(self)
    }
}

impl From<GroupCommitError> for ServiceError {
    fn from(error: GroupCommitError) -> Self {
        Self::internal(error)
    }
}

impl From<reset_token::TokenError> for ServiceError {
    fn from(error: reset_token::TokenError) -> Self {
        Self::internal(error)
    }
}
