//! The firm's workspaces and clients: the lists, and the client forms.

use std::sync::Arc;

use chrono::Utc;
use identity::{Client, IdentityError, create_client, find_client, list_clients};
use minijinja::context;
use poem::web::{Data, Html, Path, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use service::ServiceError;
use service::accounts;
use tenancy::{ClientId, Tenant};

use super::views::{ClientView, StaffPage};
use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::{AdminSession, CsrfForm, StaffSession};
use crate::http::forms::parse_id;
use crate::http::templates::serialized;
use crate::state::AppState;

pub(crate) const CLIENTS_PER_PAGE: u64 = 50;

const CLIENT_FORM: &str = "staff/client_form.html";
const INVALID_CLIENT_NAME: &str = "Enter the client's name (up to 200 characters).";

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<u64>,
}

/// "All workspaces": every client of the firm, a page at a time.
#[handler]
pub async fn workspaces(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    StaffSession(staff): StaffSession,
    csrf: CsrfToken,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, GatewayError> {
    let page = StaffPage::new(&state, &tenant, &staff, csrf, "workspaces");
    client_list(&page, "staff/workspaces.html", query).await
}

/// "Client Settings: All Firm Clients".
#[handler]
pub async fn clients(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    StaffSession(staff): StaffSession,
    csrf: CsrfToken,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, GatewayError> {
    let page = StaffPage::new(&state, &tenant, &staff, csrf, "clients");
    client_list(&page, "staff/clients.html", query).await
}

/// The two pages that list the firm's clients: the same search and pages, each in
/// its own section of the staff area.
async fn client_list(
    page: &StaffPage<'_>,
    template: &str,
    query: ListQuery,
) -> Result<Html<String>, GatewayError> {
    let found = list_clients(
        &page.state.services.db,
        page.tenant.id,
        query.q.as_deref(),
        query.page.unwrap_or(1),
        CLIENTS_PER_PAGE,
    )
    .await?;
    let rows: Vec<ClientView> = found.clients.iter().map(ClientView::of).collect();
    let context = context! {
        clients => serialized(rows),
        total => found.total,
        page => found.page,
        pages => found.pages(),
        q => query.q.unwrap_or_default(),
    };
    page.render(template, context)
}

/// Where a client's pages lead once something was saved: its Contacts tab.
pub(crate) fn contacts_tab(client: ClientId) -> Response {
    Redirect::see_other(format!("/staff/clients/{client}/contacts")).into_response()
}

#[derive(Debug, Deserialize)]
pub struct ClientForm {
    name: String,
    #[serde(default)]
    status: Option<String>,
}

#[handler]
pub async fn new_client_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    let page = StaffPage::new(&state, &tenant, &staff, csrf, "clients");
    page.render(CLIENT_FORM, context! { name => "" })
}

#[handler]
pub async fn new_client(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<ClientForm>,
) -> Result<Response, GatewayError> {
    match create_client(&state.services.db, tenant.id, &form.name, Utc::now()).await {
        Ok(client) => Ok(contacts_tab(client.id)),
        Err(IdentityError::InvalidName) => {
            let context = context! { name => form.name, error => INVALID_CLIENT_NAME };
            StaffPage::new(&state, &tenant, &staff, csrf, "clients").refused(CLIENT_FORM, context)
        }
        Err(error) => Err(error.into()),
    }
}

pub(crate) async fn firm_client(
    state: &AppState,
    tenant: &Tenant,
    raw_id: &str,
) -> Result<Client, GatewayError> {
    find_client(&state.services.db, tenant.id, parse_id(raw_id)?)
        .await?
        .ok_or(GatewayError::NotFound)
}

#[handler]
pub async fn edit_client_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    Path(client_id): Path<String>,
) -> Result<Html<String>, GatewayError> {
    let client = firm_client(&state, &tenant, &client_id).await?;
    let context = context! { client => serialized(ClientView::of(&client)), name => client.name };
    StaffPage::new(&state, &tenant, &staff, csrf, "clients").render(CLIENT_FORM, context)
}

#[handler]
pub async fn edit_client(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    Path(client_id): Path<String>,
    CsrfForm(form): CsrfForm<ClientForm>,
) -> Result<Response, GatewayError> {
    let client = firm_client(&state, &tenant, &client_id).await?;
    let disabled = form.status.as_deref() == Some("disabled");
    match accounts::edit_client(&state.services, &tenant, &client, &form.name, disabled).await {
        Ok(()) => Ok(contacts_tab(client.id)),
        Err(ServiceError::Identity(IdentityError::InvalidName)) => {
            let context = context! {
                client => serialized(ClientView::of(&client)),
                name => form.name,
                error => INVALID_CLIENT_NAME,
            };
            StaffPage::new(&state, &tenant, &staff, csrf, "clients").refused(CLIENT_FORM, context)
        }
        Err(error) => Err(error.into()),
    }
}
