//! Sessions: a random 256-bit id in a cookie, only its SHA-256 in the database, bound
//! to one firm, one kind of account and one account, with idle and absolute expiry.
//!
//! Time is a parameter everywhere, so tests move the clock instead of sleeping.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use tenancy::{AccountKind, AccountRef, TenantId};
use uuid::Uuid;

use crate::IdentityError;
use crate::entity::session;

/// How long a session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetime {
    /// Ends after this long without a request.
    pub idle: Duration,
    /// Ends this long after sign-in, however active.
    pub absolute: Duration,
}

impl Default for SessionLifetime {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

/// `last_seen_at` is written at most this often, so reads stay reads.
const TOUCH_INTERVAL: Duration = Duration::seconds(60);

/// The secret a browser holds: 64 hex characters. `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    fn generate() -> Result<Self, IdentityError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|error| IdentityError::Hashing(error.to_string()))?;
        Ok(Self(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// A cookie's value, if it has the shape of a token.
    pub fn from_cookie(value: &str) -> Option<Self> {
        (value.len() == 64
            && value
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| Self(value.to_owned()))
    }

    /// The value to put in the cookie.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        Sha256::digest(self.0.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// Whose session it is; a staff session is never a contact's.
    pub account: AccountRef,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Starts a session. Sign-in always makes a new one, so an id planted before sign-in
/// (session fixation) is never promoted.
pub async fn create_session(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    account: AccountRef,
    lifetime: SessionLifetime,
    now: DateTime<Utc>,
) -> Result<(SessionToken, Session), IdentityError> {
    let token = SessionToken::generate()?;
    let row = session::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant.as_uuid()),
        account_kind: Set(account.kind().as_str().to_owned()),
        account_id: Set(account.as_uuid()),
        token_hash: Set(token.hash()),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + lifetime.absolute),
    }
    .insert(db)
    .await?;
    Ok((token, to_session(row, account.kind())))
}

/// The live session behind `token` for this firm and kind of account, or `None`. An
/// expired session is deleted on sight.
pub async fn authenticate_session(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    kind: AccountKind,
    token: &SessionToken,
    lifetime: SessionLifetime,
    now: DateTime<Utc>,
) -> Result<Option<Session>, IdentityError> {
    let Some(row) = session::Entity::find()
        .filter(session::Column::TokenHash.eq(token.hash()))
        .filter(session::Column::TenantId.eq(tenant.as_uuid()))
        .filter(session::Column::AccountKind.eq(kind.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if now >= row.expires_at || now - row.last_seen_at >= lifetime.idle {
        session::Entity::delete_by_id(row.id).exec(db).await?;
        return Ok(None);
    }
    if now - row.last_seen_at >= TOUCH_INTERVAL {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .filter(session::Column::Id.eq(row.id))
            .exec(db)
            .await?;
    }
    Ok(Some(to_session(row, kind)))
}

/// Ends the session behind `token` (sign-out).
pub async fn revoke_session(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    token: &SessionToken,
) -> Result<(), IdentityError> {
    session::Entity::delete_many()
        .filter(session::Column::TokenHash.eq(token.hash()))
        .filter(session::Column::TenantId.eq(tenant.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every session of an account, except `keep` (the one changing the password).
pub async fn revoke_all_sessions(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    account: AccountRef,
    keep: Option<Uuid>,
) -> Result<u64, IdentityError> {
    let mut delete = session::Entity::delete_many()
        .filter(session::Column::TenantId.eq(tenant.as_uuid()))
        .filter(session::Column::AccountKind.eq(account.kind().as_str()))
        .filter(session::Column::AccountId.eq(account.as_uuid()));
    if let Some(keep) = keep {
        delete = delete.filter(session::Column::Id.ne(keep));
    }
    Ok(delete.exec(db).await?.rows_affected)
}

fn to_session(row: session::Model, kind: AccountKind) -> Session {
    Session {
        id: row.id,
        tenant_id: TenantId::from_uuid(row.tenant_id),
        account: AccountRef::from_parts(kind, row.account_id),
        created_at: row.created_at,
        expires_at: row.expires_at,
    }
}
