//! A firm's staff: the people who sign in at `/staff` and manage clients and contacts.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use tenancy::{StaffUserId, TenantId};

use crate::entity::staff_user;
use crate::error::{clean_name, email_taken};
use crate::firm_rows::{AccountTable, FirmTable};
use crate::{EmailAddress, IdentityError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffRole {
    /// Manages clients, contacts, staff and the firm's settings.
    Admin,
    Staff,
}

impl StaffRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Staff => "staff",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(Self::Admin),
            "staff" => Some(Self::Staff),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffStatus {
    /// Invited; signs in once a password is set through the invitation.
    Invited,
    Active,
    Disabled,
}

impl StaffStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "invited" => Some(Self::Invited),
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUser {
    pub id: StaffUserId,
    pub tenant_id: TenantId,
    pub email: EmailAddress,
    pub name: String,
    pub role: StaffRole,
    pub status: StaffStatus,
    /// Only the sign-in code reads this.
    pub password_hash: Option<String>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewStaffUser {
    pub email: EmailAddress,
    pub name: String,
    pub role: StaffRole,
    /// `Some` creates an active account; `None` an invited one.
    pub password_hash: Option<String>,
}

pub(crate) const STAFF: AccountTable<staff_user::Column> = AccountTable {
    firm: FirmTable {
        tenant_id: staff_user::Column::TenantId,
        id: staff_user::Column::Id,
    },
    email: staff_user::Column::Email,
    status: staff_user::Column::Status,
    password_hash: staff_user::Column::PasswordHash,
    last_sign_in_at: staff_user::Column::LastSignInAt,
    updated_at: staff_user::Column::UpdatedAt,
};

pub async fn create_staff_user(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    new: NewStaffUser,
    now: DateTime<Utc>,
) -> Result<StaffUser, IdentityError> {
    let status = if new.password_hash.is_some() {
        StaffStatus::Active
    } else {
        StaffStatus::Invited
    };
    let row = staff_user::ActiveModel {
        id: Set(StaffUserId::generate().as_uuid()),
        tenant_id: Set(tenant.as_uuid()),
        email: Set(new.email.to_string()),
        name: Set(clean_name(&new.name)?),
        role: Set(new.role.as_str().to_owned()),
        status: Set(status.as_str().to_owned()),
        password_hash: Set(new.password_hash),
        last_sign_in_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    to_staff(row.insert(db).await.map_err(email_taken)?)
}

pub async fn find_staff_user(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: StaffUserId,
) -> Result<Option<StaffUser>, IdentityError> {
    STAFF
        .firm
        .find::<staff_user::Entity, _>(db, tenant, id.as_uuid(), to_staff)
        .await
}

pub async fn find_staff_by_email(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    email: &EmailAddress,
) -> Result<Option<StaffUser>, IdentityError> {
    STAFF
        .find_by_email::<staff_user::Entity, _>(db, tenant, email, to_staff)
        .await
}

pub async fn list_staff_users(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> Result<Vec<StaffUser>, IdentityError> {
    staff_user::Entity::find()
        .filter(staff_user::Column::TenantId.eq(tenant.as_uuid()))
        .order_by_asc(staff_user::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(to_staff)
        .collect()
}

/// Notes a successful sign-in, storing an upgraded hash when the parameters changed.
pub async fn record_staff_sign_in(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: StaffUserId,
    upgraded_hash: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    Ok(STAFF
        .record_sign_in::<staff_user::Entity>(db, tenant, id.as_uuid(), upgraded_hash, now)
        .await?)
}

/// Sets a new password hash and activates an invited account.
pub async fn set_staff_password(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: StaffUserId,
    password_hash: String,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    STAFF
        .set_password::<staff_user::Entity>(
            db,
            tenant,
            id.as_uuid(),
            password_hash,
            now,
            |update| update,
        )
        .await
}

fn to_staff(row: staff_user::Model) -> Result<StaffUser, IdentityError> {
    Ok(StaffUser {
        id: StaffUserId::from_uuid(row.id),
        tenant_id: TenantId::from_uuid(row.tenant_id),
        email: EmailAddress::from_stored(row.email),
        name: row.name,
        role: StaffRole::parse(&row.role)
            .ok_or_else(|| IdentityError::Corrupt(format!("staff role {}", row.role)))?,
        status: StaffStatus::parse(&row.status)
            .ok_or_else(|| IdentityError::Corrupt(format!("staff status {}", row.status)))?,
        password_hash: row.password_hash,
        last_sign_in_at: row.last_sign_in_at,
    })
}
