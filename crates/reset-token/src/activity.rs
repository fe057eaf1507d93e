//! How much a firm's reset links were used recently, for operators.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tenancy::TenantId;

use crate::entity::reset_token;
use crate::{TokenError, TokenPurpose};

/// Counts of one firm's password resets (links and temporary passwords; invitations
/// are not resets) in a window of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResetActivity {
    /// Reset emails issued: by staff or by "Forgot your password?" for a known address.
    pub requested: u64,
    /// Links used to set a password or receive a temporary one.
    pub completed: u64,
    /// Links whose time ran out unused.
    pub expired: u64,
}

/// The firm's reset activity between `since` and `now`.
pub async fn reset_activity(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ResetActivity, TokenError> {
    let purposes = [
        TokenPurpose::Reset.as_str(),
        TokenPurpose::TemporaryPassword.as_str(),
    ];
    let resets = || {
        reset_token::Entity::find()
            .filter(reset_token::Column::TenantId.eq(tenant.as_uuid()))
            .filter(reset_token::Column::Purpose.is_in(purposes))
    };
    let requested = resets()
        .filter(reset_token::Column::CreatedAt.gte(since))
        .filter(reset_token::Column::CreatedAt.lte(now))
        .count(db)
        .await?;
    let completed = resets()
        .filter(reset_token::Column::ConsumedAt.gte(since))
        .filter(reset_token::Column::ConsumedAt.lte(now))
        .count(db)
        .await?;
    // An expired token is still stored as issued: expiry is derived from the clock.
    let expired = resets()
        .filter(reset_token::Column::State.eq("issued"))
        .filter(reset_token::Column::ExpiresAt.gte(since))
        .filter(reset_token::Column::ExpiresAt.lte(now))
        .count(db)
        .await?;
    Ok(ResetActivity {
        requested,
        completed,
        expired,
    })
}
