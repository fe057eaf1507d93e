//! Minting, checking, redeeming and revoking stored tokens.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Set,
    UpdateMany,
};
use tenancy::{AccountRef, TenantId};
use uuid::Uuid;

use crate::entity::reset_token;
use crate::{TokenError, TokenKeys, TokenPurpose, UrlToken};

/// Where a token is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Issued,
    Consumed,
    /// A newer token was minted for the same account.
    Superseded,
    /// The account's password changed, or an operator revoked it.
    Revoked,
    /// Issued, but its time ran out (derived from `expires_at`, never stored).
    Expired,
}

impl TokenState {
    fn stored(self) -> &'static str {
        match self {
            Self::Issued | Self::Expired => "issued",
            Self::Consumed => "consumed",
            Self::Superseded => "superseded",
            Self::Revoked => "revoked",
        }
    }

    fn read(raw: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<Self> {
        Some(match raw {
            "issued" if now >= expires_at => Self::Expired,
            "issued" => Self::Issued,
            "consumed" => Self::Consumed,
            "superseded" => Self::Superseded,
            "revoked" => Self::Revoked,
            _ => return None,
        })
    }
}

/// What a person saw on opening a link: each is written to the audit trail once per
/// token, however often the page is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    Valid,
    Expired,
    Used,
}

impl Opening {
    fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Expired => "expired",
            Self::Used => "used",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "valid" => Some(Self::Valid),
            "expired" => Some(Self::Expired),
            "used" => Some(Self::Used),
            _ => None,
        }
    }
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub purpose: TokenPurpose,
    /// The account the link resets or invites.
    pub account: AccountRef,
    pub state: TokenState,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub consumed_at: Option<DateTime<Utc>>,
    /// The last opening written to the audit trail.
    pub last_opening: Option<Opening>,
}

/// A new token: the URL form goes into one email and is then forgotten.
#[derive(Debug, Clone)]
pub struct MintedToken {
    pub token: UrlToken,
    pub record: TokenRecord,
}

/// What a presented token is, for the page that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    Valid(TokenRecord),
    Expired(TokenRecord),
    /// Already redeemed: a link can be used only once.
    Used(TokenRecord),
    /// Forged, superseded, revoked, another firm's or purpose's, or never existed: all
    /// alike, so the answer reveals nothing.
    Invalid,
}

#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("the link is not valid")]
    Invalid,
    #[error("the link has expired")]
    Expired,
    #[error("the link was already used")]
    Used,
    #[error(transparent)]
    Store(#[from] TokenError),
}

/// Mints a token for an account, superseding the account's older tokens of every
/// purpose: the newest email is the only one that acts, so an invitation does not
/// outlive a later reset, nor a reset link a switch of the firm's reset mode. Run it in
/// the transaction that also enqueues the email carrying it.
pub async fn mint_token(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    tenant: TenantId,
    purpose: TokenPurpose,
    account: AccountRef,
    lifetime: Duration,
    now: DateTime<Utc>,
) -> Result<MintedToken, TokenError> {
    end_live_tokens(tenant, account, TokenState::Superseded)
        .exec(db)
        .await?;
    let token = UrlToken::generate()?;
    let row = reset_token::ActiveModel {
        id: Set(token.id),
        tenant_id: Set(tenant.as_uuid()),
        purpose: Set(purpose.as_str().to_owned()),
        account_kind: Set(account.kind().as_str().to_owned()),
        account_id: Set(account.as_uuid()),
        token_hash: Set(keys.digest(tenant, purpose, &token)),
        state: Set(TokenState::Issued.stored().to_owned()),
        created_at: Set(now),
        expires_at: Set(now + lifetime),
        consumed_at: Set(None),
        seen_state: Set(None),
    }
    .insert(db)
    .await?;
    let record = to_record(row, now)?;
    Ok(MintedToken { token, record })
}

/// What `token` is for this firm and purpose, without changing anything: opening a
/// link (which mail scanners do) must not use it up.
pub async fn check_token(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    tenant: TenantId,
    purpose: TokenPurpose,
    token: &UrlToken,
    now: DateTime<Utc>,
) -> Result<TokenCheck, TokenError> {
    judge(db, keys, tenant, Some(purpose), token, now).await
}

/// Like [`check_token`] for a link that may carry any purpose: the purpose is read
/// from the stored row and is bound into the HMAC, so it cannot be swapped.
pub async fn check_any_token(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    tenant: TenantId,
    token: &UrlToken,
    now: DateTime<Utc>,
) -> Result<TokenCheck, TokenError> {
    judge(db, keys, tenant, None, token, now).await
}

/// What the firm's stored row (of `purpose`, where one is asked for) makes of a
/// presented token: the secret must match the row's HMAC under the row's own purpose.
async fn judge(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    tenant: TenantId,
    purpose: Option<TokenPurpose>,
    token: &UrlToken,
    now: DateTime<Utc>,
) -> Result<TokenCheck, TokenError> {
    let mut query = reset_token::Entity::find_by_id(token.id)
        .filter(reset_token::Column::TenantId.eq(tenant.as_uuid()));
    if let Some(purpose) = purpose {
        query = query.filter(reset_token::Column::Purpose.eq(purpose.as_str()));
    }
    let Some(row) = query.one(db).await? else {
        return Ok(TokenCheck::Invalid);
    };
    let purpose = TokenPurpose::parse(&row.purpose)
        .ok_or_else(|| TokenError::Corrupt(format!("purpose {}", row.purpose)))?;
    if !keys.matches(&row.token_hash, tenant, purpose, token) {
        return Ok(TokenCheck::Invalid);
    }
    let record = to_record(row, now)?;
    Ok(match record.state {
        TokenState::Issued => TokenCheck::Valid(record),
        TokenState::Expired => TokenCheck::Expired(record),
        TokenState::Consumed => TokenCheck::Used(record),
        TokenState::Superseded | TokenState::Revoked => TokenCheck::Invalid,
    })
}

/// Notes that `record`'s link was opened as `opening`. True only the first time the
/// link is seen so, when the caller then writes the audit trail; every later opening
/// in the same state writes nothing (one conditional UPDATE, which a reader skips
/// altogether when the record already says so).
pub async fn note_opening(
    db: &impl ConnectionTrait,
    record: &TokenRecord,
    opening: Opening,
) -> Result<bool, TokenError> {
    if record.last_opening == Some(opening) {
        return Ok(false);
    }
    let result = reset_token::Entity::update_many()
        .col_expr(
            reset_token::Column::SeenState,
            Expr::value(opening.as_str()),
        )
        .filter(reset_token::Column::Id.eq(record.id))
        .filter(reset_token::Column::TenantId.eq(record.tenant_id.as_uuid()))
        .filter(
            Condition::any()
                .add(reset_token::Column::SeenState.is_null())
                .add(reset_token::Column::SeenState.ne(opening.as_str())),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Uses `token` up. One conditional UPDATE decides: of many concurrent redemptions
/// exactly one changes the row, and only that one succeeds.
pub async fn redeem_token(
    db: &impl ConnectionTrait,
    keys: &TokenKeys,
    tenant: TenantId,
    purpose: TokenPurpose,
    token: &UrlToken,
    now: DateTime<Utc>,
) -> Result<TokenRecord, RedeemError> {
    let record = match check_token(db, keys, tenant, purpose, token, now).await? {
        TokenCheck::Valid(record) => record,
        TokenCheck::Expired(_) => return Err(RedeemError::Expired),
        TokenCheck::Used(_) => return Err(RedeemError::Used),
        TokenCheck::Invalid => return Err(RedeemError::Invalid),
    };
    let result = reset_token::Entity::update_many()
        .col_expr(
            reset_token::Column::State,
            Expr::value(TokenState::Consumed.stored()),
        )
        .col_expr(reset_token::Column::ConsumedAt, Expr::value(now))
        .filter(reset_token::Column::Id.eq(record.id))
        .filter(reset_token::Column::TenantId.eq(tenant.as_uuid()))
        .filter(reset_token::Column::State.eq(TokenState::Issued.stored()))
        .filter(reset_token::Column::ExpiresAt.gt(now))
        .exec(db)
        .await
        .map_err(TokenError::from)?;
    if result.rows_affected == 1 {
        return Ok(TokenRecord {
            state: TokenState::Consumed,
            consumed_at: Some(now),
            ..record
        });
    }
    // Someone else won the race, or the token changed state meanwhile.
    match check_token(db, keys, tenant, purpose, token, now).await? {
        TokenCheck::Used(_) => Err(RedeemError::Used),
        TokenCheck::Expired(_) => Err(RedeemError::Expired),
        TokenCheck::Valid(_) | TokenCheck::Invalid => Err(RedeemError::Invalid),
    }
}

/// Revokes every live token of an account (after its password changed), except
/// `keep`. Returns how many were revoked.
pub async fn revoke_tokens(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    account: AccountRef,
    keep: Option<Uuid>,
) -> Result<u64, TokenError> {
    let mut update = end_live_tokens(tenant, account, TokenState::Revoked);
    if let Some(keep) = keep {
        update = update.filter(reset_token::Column::Id.ne(keep));
    }
    Ok(update.exec(db).await?.rows_affected)
}

/// The update that moves every live token of an account to `end`.
fn end_live_tokens(
    tenant: TenantId,
    account: AccountRef,
    end: TokenState,
) -> UpdateMany<reset_token::Entity> {
    reset_token::Entity::update_many()
        .col_expr(reset_token::Column::State, Expr::value(end.stored()))
        .filter(reset_token::Column::TenantId.eq(tenant.as_uuid()))
        .filter(reset_token::Column::AccountKind.eq(account.kind().as_str()))
        .filter(reset_token::Column::AccountId.eq(account.as_uuid()))
        .filter(reset_token::Column::State.eq(TokenState::Issued.stored()))
}

fn to_record(row: reset_token::Model, now: DateTime<Utc>) -> Result<TokenRecord, TokenError> {
    let purpose = TokenPurpose::parse(&row.purpose)
        .ok_or_else(|| TokenError::Corrupt(format!("purpose {}", row.purpose)))?;
    let state = TokenState::read(&row.state, row.expires_at, now)
        .ok_or_else(|| TokenError::Corrupt(format!("state {}", row.state)))?;
    Ok(TokenRecord {
        id: row.id,
        tenant_id: TenantId::from_uuid(row.tenant_id),
        purpose,
        account: AccountRef::from_stored(&row.account_kind, row.account_id)
            .ok_or_else(|| TokenError::Corrupt(format!("account kind {}", row.account_kind)))?,
        state,
        created_at: row.created_at,
        expires_at: row.expires_at,
        consumed_at: row.consumed_at,
        last_opening: row.seen_state.as_deref().and_then(Opening::parse),
    })
}
