//! A firm's clients: the workspaces that contacts belong to.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use tenancy::{ClientId, TenantId};

use crate::IdentityError;
use crate::entity::client;
use crate::error::clean_name;
use crate::firm_rows::{FirmTable, one_row};

const CLIENTS: FirmTable<client::Column> = FirmTable {
    tenant_id: client::Column::TenantId,
    id: client::Column::Id,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientStatus {
    Active,
    Disabled,
}

impl ClientStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    pub tenant_id: TenantId,
    pub name: String,
    pub status: ClientStatus,
    pub created_at: DateTime<Utc>,
}

/// One page of a firm's clients, by name.
#[derive(Debug, Clone)]
pub struct ClientPage {
    pub clients: Vec<Client>,
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

impl ClientPage {
    pub fn pages(&self) -> u64 {
        self.total.div_ceil(self.per_page).max(1)
    }
}

pub async fn create_client(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Client, IdentityError> {
    let name = clean_name(name)?;
    let row = client::ActiveModel {
        id: Set(ClientId::generate().as_uuid()),
        tenant_id: Set(tenant.as_uuid()),
        name_key: Set(name.to_lowercase()),
        name: Set(name),
        status: Set(ClientStatus::Active.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    to_client(row.insert(db).await?)
}

pub async fn rename_client(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: ClientId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    let name = clean_name(name)?;
    let result = CLIENTS
        .update::<client::Entity>(tenant, id.as_uuid())
        .col_expr(client::Column::NameKey, Expr::value(name.to_lowercase()))
        .col_expr(client::Column::Name, Expr::value(name))
        .col_expr(client::Column::UpdatedAt, Expr::value(now))
        .exec(db)
        .await?;
    one_row(result)
}

pub async fn set_client_status(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: ClientId,
    status: ClientStatus,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    let result = CLIENTS
        .update::<client::Entity>(tenant, id.as_uuid())
        .col_expr(client::Column::Status, Expr::value(status.as_str()))
        .col_expr(client::Column::UpdatedAt, Expr::value(now))
        .exec(db)
        .await?;
    one_row(result)
}

/// Whether the client exists and is enabled: a disabled client's contacts neither
/// sign in nor receive links, whatever their own status.
pub async fn client_is_active(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: ClientId,
) -> Result<bool, IdentityError> {
    Ok(find_client(db, tenant, id)
        .await?
        .is_some_and(|client| client.status == ClientStatus::Active))
}

pub async fn find_client(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: ClientId,
) -> Result<Option<Client>, IdentityError> {
    CLIENTS
        .find::<client::Entity, _>(db, tenant, id.as_uuid(), to_client)
        .await
}

/// Clients whose name contains `search` (case-insensitive), by name, one page at a
/// time; a page past the end is the last page. `(tenant_id, name_key)` is indexed, so this stays fast for large firms.
pub async fn list_clients(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    search: Option<&str>,
    page: u64,
    per_page: u64,
) -> Result<ClientPage, IdentityError> {
    let per_page = per_page.clamp(1, 200);
    let mut query = client::Entity::find().filter(client::Column::TenantId.eq(tenant.as_uuid()));
    if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        query = query.filter(client::Column::NameKey.like(LikeExpr::new(pattern).escape('\\')));
    }
    let total = query.clone().count(db).await?;
    // A page past the end (a stale link, or `?page=18446744073709551615`) shows the
    // last one; the offset can then never overflow.
    let last_page = total.div_ceil(per_page).max(1);
    let page = page.clamp(1, last_page);
    let clients = query
        .order_by_asc(client::Column::NameKey)
        .order_by_asc(client::Column::Id)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .all(db)
        .await?
        .into_iter()
        .map(to_client)
        .collect::<Result<_, _>>()?;
    Ok(ClientPage {
        clients,
        total,
        page,
        per_page,
    })
}

/// Makes `%`, `_` and `\` in a search match themselves.
fn escape_like(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn to_client(row: client::Model) -> Result<Client, IdentityError> {
    Ok(Client {
        id: ClientId::from_uuid(row.id),
        tenant_id: TenantId::from_uuid(row.tenant_id),
        name: row.name,
        status: ClientStatus::parse(&row.status)
            .ok_or_else(|| IdentityError::Corrupt(format!("client status {}", row.status)))?,
        created_at: row.created_at,
    })
}
