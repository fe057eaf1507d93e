//! Everything that can go wrong in the tenancy crate.

use sea_orm::DbErr;

use crate::{HostError, SlugError};

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("invalid slug: {0}")]
    InvalidSlug(#[from] SlugError),
    #[error("invalid domain: {0}")]
    InvalidDomain(#[from] HostError),
    #[error("a firm's name must be 1 to 200 characters with no control characters")]
    InvalidDisplayName,
    #[error("`{0}` is not an email address")]
    InvalidEmail(String),
    #[error("a firm with the slug `{0}` already exists")]
    SlugTaken(String),
    #[error("no firm has the slug `{0}`")]
    UnknownTenant(String),
    #[error("the domain `{0}` is already claimed")]
    DomainTaken(String),
    #[error(
        "the domain `{domain}` is too long to verify: its TXT record's name would pass \
         DNS's 253 characters; a custom domain has at most {max}"
    )]
    DomainTooLong { domain: String, max: usize },
    #[error("the domain `{0}` belongs to the platform and cannot be claimed by a firm")]
    PlatformDomain(String),
    #[error("the firm has no domain `{0}`")]
    UnknownDomain(String),
    #[error("`{field}` {reason}")]
    InvalidSetting { field: &'static str, reason: String },
    #[error("the firm `{0}` is deleted")]
    TenantDeleted(String),
    #[error(
        "the domain `{domain}` is not verified: publish a TXT record `{record_name}` with the value `{expected}`"
    )]
    DomainNotVerified {
        domain: String,
        record_name: String,
        expected: String,
    },
    #[error("the TXT records of `{name}` could not be read: {reason}")]
    TxtLookupFailed { name: String, reason: String },
    #[error("the stored firm `{slug}` is unreadable: {reason}")]
    CorruptRecord { slug: String, reason: String },
    #[error("database error")]
    Database(#[from] DbErr),
}
