//! Reads and writes shared by the tables whose rows each belong to one firm, and by the
//! two account tables (staff users and contacts), whose password, status and sign-in
//! columns follow the same rules. Every statement here is scoped to one firm, so that a
//! row id from another firm finds nothing.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, UpdateMany,
    UpdateResult,
};
use tenancy::TenantId;
use uuid::Uuid;

use crate::{EmailAddress, IdentityError};

/// The columns that tie a table's rows to their firm.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FirmTable<C> {
    pub tenant_id: C,
    pub id: C,
}

impl<C: ColumnTrait> FirmTable<C> {
    /// Row `id`, provided it is the firm's.
    pub fn row(&self, tenant: TenantId, id: Uuid) -> Condition {
        Condition::all()
            .add(self.id.eq(id))
            .add(self.tenant_id.eq(tenant.as_uuid()))
    }

    /// Row `id` of the firm, as `read` makes it.
    pub async fn find<E, T>(
        &self,
        db: &impl ConnectionTrait,
        tenant: TenantId,
        id: Uuid,
        read: impl FnOnce(E::Model) -> Result<T, IdentityError>,
    ) -> Result<Option<T>, IdentityError>
    where
        E: EntityTrait<Column = C>,
    {
        E::find()
            .filter(self.row(tenant, id))
            .one(db)
            .await?
            .map(read)
            .transpose()
    }

    /// An update of row `id` of the firm; the caller adds what it sets.
    pub fn update<E>(&self, tenant: TenantId, id: Uuid) -> UpdateMany<E>
    where
        E: EntityTrait<Column = C>,
    {
        E::update_many().filter(self.row(tenant, id))
    }
}

/// An update of one row is answered `NotFound` when it changed none: the row is not
/// there, is another firm's, or was not in a state the update allows.
pub(crate) fn one_row(result: UpdateResult) -> Result<(), IdentityError> {
    if result.rows_affected == 0 {
        return Err(IdentityError::NotFound);
    }
    Ok(())
}

/// The columns staff users and contacts share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccountTable<C> {
    pub firm: FirmTable<C>,
    pub email: C,
    pub status: C,
    pub password_hash: C,
    pub last_sign_in_at: C,
    pub updated_at: C,
}

/// The statuses both account kinds store.
const ACTIVE: &str = "active";
pub(crate) const DISABLED: &str = "disabled";

impl<C: ColumnTrait> AccountTable<C> {
    /// The firm's account with `email`, as `read` makes it.
    pub async fn find_by_email<E, T>(
        &self,
        db: &impl ConnectionTrait,
        tenant: TenantId,
        email: &EmailAddress,
        read: impl FnOnce(E::Model) -> Result<T, IdentityError>,
    ) -> Result<Option<T>, IdentityError>
    where
        E: EntityTrait<Column = C>,
    {
        E::find()
            .filter(self.firm.tenant_id.eq(tenant.as_uuid()))
            .filter(self.email.eq(email.as_str()))
            .one(db)
            .await?
            .map(read)
            .transpose()
    }

    /// Sets a password hash and activates an invited account; a disabled account is
    /// `NotFound`, so that a link minted before it was disabled does not revive it.
    /// `extra` adds what one kind of account also sets.
    pub async fn set_password<E>(
        &self,
        db: &impl ConnectionTrait,
        tenant: TenantId,
        id: Uuid,
        password_hash: String,
        now: DateTime<Utc>,
        extra: impl FnOnce(UpdateMany<E>) -> UpdateMany<E>,
    ) -> Result<(), IdentityError>
    where
        E: EntityTrait<Column = C>,
    {
        let update = self
            .firm
            .update::<E>(tenant, id)
            .col_expr(self.password_hash, Expr::value(password_hash))
            .col_expr(self.status, Expr::value(ACTIVE))
            .col_expr(self.updated_at, Expr::value(now))
            .filter(self.status.ne(DISABLED));
        one_row(extra(update).exec(db).await?)
    }

    /// Notes a successful sign-in, storing an upgraded hash when the parameters
    /// changed.
    pub async fn record_sign_in<E>(
        &self,
        db: &impl ConnectionTrait,
        tenant: TenantId,
        id: Uuid,
        upgraded_hash: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr>
    where
        E: EntityTrait<Column = C>,
    {
        let mut update = self
            .firm
            .update::<E>(tenant, id)
            .col_expr(self.last_sign_in_at, Expr::value(now));
        if let Some(hash) = upgraded_hash {
            update = update.col_expr(self.password_hash, Expr::value(hash));
        }
        update.exec(db).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{ACTIVE, DISABLED};
    use crate::{ContactStatus, StaffStatus};

    #[test]
    fn both_account_kinds_store_the_statuses_the_shared_updates_write() {
        assert_eq!(ContactStatus::Active.as_str(), ACTIVE);
        assert_eq!(StaffStatus::Active.as_str(), ACTIVE);
        assert_eq!(ContactStatus::Disabled.as_str(), DISABLED);
        assert_eq!(StaffStatus::Disabled.as_str(), DISABLED);
    }
}
