//! Contacts: the people of a client who sign in to the firm's portal.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use tenancy::{ClientId, ContactId, TenantId};

use crate::entity::contact;
use crate::error::{clean_name, email_taken};
use crate::firm_rows::{AccountTable, FirmTable, one_row};
use crate::{EmailAddress, IdentityError};

/// Locales the portal and its emails speak.
pub const LOCALES: &[&str] = &["en", "it"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactStatus {
    /// Created by the firm; has not set a password yet.
    Invited,
    Active,
    Disabled,
}

impl ContactStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "invited" => Some(Self::Invited),
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: ContactId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub name: String,
    pub email: EmailAddress,
    pub locale: String,
    pub status: ContactStatus,
    /// Only the sign-in code reads this.
    pub password_hash: Option<String>,
    pub must_change_password: bool,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewContact {
    pub client_id: ClientId,
    pub name: String,
    pub email: EmailAddress,
    pub locale: String,
    /// `Some` creates an active contact (demo data); `None` an invited one.
    pub password_hash: Option<String>,
}

/// What staff may change about a contact.
#[derive(Debug, Clone)]
pub struct ContactChanges {
    pub name: String,
    pub email: EmailAddress,
    pub locale: String,
    pub status: ContactStatus,
}

fn checked_locale(locale: &str) -> String {
    if LOCALES.contains(&locale) {
        locale.to_owned()
    } else {
        "en".to_owned()
    }
}

pub(crate) const CONTACTS: AccountTable<contact::Column> = AccountTable {
    firm: FirmTable {
        tenant_id: contact::Column::TenantId,
        id: contact::Column::Id,
    },
    email: contact::Column::Email,
    status: contact::Column::Status,
    password_hash: contact::Column::PasswordHash,
    last_sign_in_at: contact::Column::LastSignInAt,
    updated_at: contact::Column::UpdatedAt,
};

/// The new row of a contact of client `client_id`: active when it comes with a
/// password, invited otherwise.
fn new_row(
    tenant: TenantId,
    client_id: ClientId,
    new: NewContact,
    now: DateTime<Utc>,
) -> Result<contact::ActiveModel, IdentityError> {
    let status = if new.password_hash.is_some() {
        ContactStatus::Active
    } else {
        ContactStatus::Invited
    };
    Ok(contact::ActiveModel {
        id: Set(ContactId::generate().as_uuid()),
        tenant_id: Set(tenant.as_uuid()),
        client_id: Set(client_id.as_uuid()),
        name: Set(clean_name(&new.name)?),
        email: Set(new.email.to_string()),
        locale: Set(checked_locale(&new.locale)),
        status: Set(status.as_str().to_owned()),
        password_hash: Set(new.password_hash),
        must_change_password: Set(false),
        last_sign_in_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
}

/// Creates a contact under a client of the same firm.
pub async fn create_contact(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    new: NewContact,
    now: DateTime<Utc>,
) -> Result<Contact, IdentityError> {
    if crate::find_client(db, tenant, new.client_id)
        .await?
        .is_none()
    {
        return Err(IdentityError::NotFound);
    }
    let row = new_row(tenant, new.client_id, new, now)?;
    to_contact(row.insert(db).await.map_err(email_taken)?)
}

/// Creates many contacts of one client at once, in multi-row INSERTs: an import, or
/// seeding a database for a benchmark. An address already taken fails the call with
/// [`IdentityError::EmailTaken`]; run it in a transaction so that nothing stays of a
/// failed import. Returns how many were created.
pub async fn import_contacts(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client_id: ClientId,
    people: Vec<NewContact>,
    now: DateTime<Utc>,
) -> Result<u64, IdentityError> {
    if crate::find_client(db, tenant, client_id).await?.is_none() {
        return Err(IdentityError::NotFound);
    }
    // Twelve columns a row keeps a chunk under SQLite's and PostgreSQL's limits on
    // bound values.
    const ROWS_PER_STATEMENT: usize = 1000;
    let mut rows = Vec::with_capacity(people.len());
    for new in people {
        if new.client_id != client_id {
            return Err(IdentityError::NotFound);
        }
        rows.push(new_row(tenant, client_id, new, now)?);
    }
    let mut created = 0;
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(ROWS_PER_STATEMENT));
        let chunk = std::mem::replace(&mut rows, rest);
        let count = chunk.len() as u64;
        contact::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await
            .map_err(email_taken)?;
        created += count;
    }
    Ok(created)
}

pub async fn update_contact(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: ContactId,
    changes: ContactChanges,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    let result = CONTACTS
        .firm
        .update::<contact::Entity>(tenant, id.as_uuid())
        .col_expr(
            contact::Column::Name,
            Expr::value(clean_name(&changes.name)?),
        )
        .col_expr(
            contact::Column::Email,
            Expr::value(changes.email.to_string()),
        )
        .col_expr(
            contact::Column::Locale,
            Expr::value(checked_locale(&changes.locale)),
        )
        .col_expr(
            contact::Column::Status,
            Expr::value(changes.status.as_str()),
        )
        .col_expr(contact::Column::UpdatedAt, Expr::value(now))
        .exec(db)
        .await
        .map_err(email_taken)?;
    one_row(result)
}

pub async fn find_contact(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: ContactId,
) -> Result<Option<Contact>, IdentityError> {
    CONTACTS
        .firm
        .find::<contact::Entity, _>(db, tenant, id.as_uuid(), to_contact)
        .await
}

pub async fn find_contact_by_email(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    email: &EmailAddress,
) -> Result<Option<Contact>, IdentityError> {
    CONTACTS
        .find_by_email::<contact::Entity, _>(db, tenant, email, to_contact)
        .await
}

/// The firm's contacts with any of `emails`, in one query (for processors that look
/// many addresses up at once).
pub async fn find_contacts_by_emails(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    emails: &[&EmailAddress],
) -> Result<Vec<Contact>, IdentityError> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    contact::Entity::find()
        .filter(contact::Column::TenantId.eq(tenant.as_uuid()))
        .filter(contact::Column::Email.is_in(emails.iter().map(|email| email.as_str())))
        .all(db)
        .await?
        .into_iter()
        .map(to_contact)
        .collect()
}

/// A client's contacts, by name.
pub async fn list_contacts(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    client_id: ClientId,
) -> Result<Vec<Contact>, IdentityError> {
    contact::Entity::find()
        .filter(contact::Column::TenantId.eq(tenant.as_uuid()))
        .filter(contact::Column::ClientId.eq(client_id.as_uuid()))
        .order_by_asc(contact::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(to_contact)
        .collect()
}

/// Sets a contact's password: an invited contact becomes active; `must_change` asks
/// for a new one at the next sign-in (temporary passwords).
pub async fn set_contact_password(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: ContactId,
    password_hash: String,
    must_change: bool,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    CONTACTS
        .set_password::<contact::Entity>(db, tenant, id.as_uuid(), password_hash, now, |update| {
            update.col_expr(
                contact::Column::MustChangePassword,
                Expr::value(must_change),
            )
        })
        .await
}

/// Notes a successful sign-in, storing an upgraded hash when the parameters changed.
pub async fn record_contact_sign_in(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: ContactId,
    upgraded_hash: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    Ok(CONTACTS
        .record_sign_in::<contact::Entity>(db, tenant, id.as_uuid(), upgraded_hash, now)
        .await?)
}

fn to_contact(row: contact::Model) -> Result<Contact, IdentityError> {
    Ok(Contact {
        id: ContactId::from_uuid(row.id),
        tenant_id: TenantId::from_uuid(row.tenant_id),
        client_id: ClientId::from_uuid(row.client_id),
        name: row.name,
        email: EmailAddress::from_stored(row.email),
        locale: row.locale,
        status: ContactStatus::parse(&row.status)
            .ok_or_else(|| IdentityError::Corrupt(format!("contact status {}", row.status)))?,
        password_hash: row.password_hash,
        must_change_password: row.must_change_password,
        last_sign_in_at: row.last_sign_in_at,
    })
}
