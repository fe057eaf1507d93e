//! The firm's workspaces and clients: the lists, and the client forms.

use std::sync::Arc;

use chrono::Utc;
use identity::{Client, IdentityError, StaffUser, create_client, find_client, list_clients};
use minijinja::context;
use poem::web::{Data, Html, Path, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use service::ServiceError;
use service::accounts;
use tenancy::Tenant;

use super::views::{ClientView, render, staff_context};
use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::{AdminSession, CsrfForm, StaffSession};
use crate::http::forms::parse_id;
use crate::http::session::SignedIn;
use crate::http::templates::serialized;
use crate::state::AppState;

pub(crate) const CLIENTS_PER_PAGE: u64 = 50;

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
    let list = ClientList {
        template: "staff/workspaces.html",
        section: "workspaces",
    };
    list.render(&state, &tenant, &staff, csrf, query).await
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
    let list = ClientList {
        template: "staff/clients.html",
        section: "clients",
    };
    list.render(&state, &tenant, &staff, csrf, query).await
}

/// The two pages that list the firm's clients: the same search and pages, each in
/// its own section of the staff area.
struct ClientList {
    template: &'static str,
    section: &'static str,
}

impl ClientList {
    async fn render(
        &self,
        state: &AppState,
        tenant: &Tenant,
        staff: &SignedIn<StaffUser>,
        csrf: CsrfToken,
        query: ListQuery,
    ) -> Result<Html<String>, GatewayError> {
        let page = list_clients(
            &state.services.db,
            tenant.id,
            query.q.as_deref(),
            query.page.unwrap_or(1),
            CLIENTS_PER_PAGE,
        )
        .await?;
        let rows: Vec<ClientView> = page.clients.iter().map(ClientView::of).collect();
        let context = context! {
            clients => serialized(rows),
            total => page.total,
            page => page.page,
            pages => page.pages(),
            q => query.q.unwrap_or_default(),
        };
        render(
            state,
            self.template,
            staff_context(tenant, staff, csrf, self.section, context),
        )
    }
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
    render(
        &state,
        "staff/client_form.html",
        staff_context(&tenant, &staff, csrf, "clients", context! { name => "" }),
    )
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
        Ok(client) => Ok(
            Redirect::see_other(format!("/staff/clients/{}/contacts", client.id)).into_response(),
        ),
        Err(IdentityError::InvalidName) => {
            let context = context! { name => form.name, error => "Enter the client's name (up to 200 characters)." };
            Ok(render(
                &state,
                "staff/client_form.html",
                staff_context(&tenant, &staff, csrf, "clients", context),
            )?
            .with_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY)
            .into_response())
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
    render(
        &state,
        "staff/client_form.html",
        staff_context(&tenant, &staff, csrf, "clients", context),
    )
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
        Ok(()) => {}
        Err(ServiceError::Identity(IdentityError::InvalidName)) => {
            let context = context! {
                client => serialized(ClientView::of(&client)),
                name => form.name,
                error => "Enter the client's name (up to 200 characters).",
            };
            return Ok(render(
                &state,
                "staff/client_form.html",
                staff_context(&tenant, &staff, csrf, "clients", context),
            )?
            .with_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY)
            .into_response());
        }
        Err(error) => return Err(error.into()),
    }
    Ok(Redirect::see_other(format!("/staff/clients/{}/contacts", client.id)).into_response())
}
