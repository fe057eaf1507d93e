//! The staff's list of credential requests at `/staff/access-requests`, with Approve
//! (creates the contact under a chosen client) and Decline.

use std::sync::Arc;

use chrono::Utc;
use identity::{AccessRequestStatus, decide_access_request, list_clients, pending_access_requests};
use minijinja::context;
use poem::web::{Data, Html, Path, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::{Deserialize, Serialize};
use service::accounts::{self, Approval};
use tenancy::Tenant;

use super::views::StaffPage;
use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::{AdminSession, CsrfForm, StaffSession};
use crate::http::forms::parse_id;
use crate::http::request_context::ClientAddress;
use crate::http::templates::serialized;
use crate::state::AppState;

#[derive(Debug, Serialize)]
struct RequestView {
    id: String,
    name: String,
    email: String,
    company: String,
    message: String,
    received: String,
}

#[derive(Debug, Serialize)]
struct ClientOption {
    id: String,
    name: String,
}

#[handler]
pub async fn list_requests(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    StaffSession(staff): StaffSession,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    let requests: Vec<RequestView> = pending_access_requests(&state.services.db, tenant.id, 200)
        .await?
        .into_iter()
        .map(|request| RequestView {
            id: request.id.to_string(),
            name: request.name,
            email: request.email.to_string(),
            company: request.company,
            message: request.message,
            received: request.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect();
    let clients: Vec<ClientOption> = list_clients(&state.services.db, tenant.id, None, 1, 200)
        .await?
        .clients
        .into_iter()
        .map(|client| ClientOption {
            id: client.id.to_string(),
            name: client.name,
        })
        .collect();
    let context = context! {
        requests => serialized(requests),
        clients => serialized(clients),
    };
    StaffPage::new(&state, &tenant, &staff, csrf, "access")
        .render("staff/access_requests.html", context)
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    client_id: String,
}

/// Approve: the contact is created (invited) under the chosen client, and the request
/// is marked approved, together.
#[handler]
pub async fn approve(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    client: Data<&ClientAddress>,
    Path(request_id): Path<String>,
    CsrfForm(form): CsrfForm<DecisionForm>,
) -> Result<Response, GatewayError> {
    let client_id = parse_id(&form.client_id).ok();
    let approval = accounts::approve_access_request(
        &state.services,
        &tenant,
        parse_id(&request_id)?,
        client_id,
        staff.account.id,
        client.0.0,
    )
    .await?;
    Ok(match approval {
        Approval::Invited(contact) => Redirect::see_other(format!(
            "/staff/clients/{}/contacts/{}",
            contact.client_id, contact.id
        )),
        Approval::AlreadyAContact => Redirect::see_other("/staff/access-requests?notice=exists"),
    }
    .into_response())
}

#[handler]
pub async fn decline(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    Path(request_id): Path<String>,
    CsrfForm(_form): CsrfForm<DecisionForm>,
) -> Result<Redirect, GatewayError> {
    let id = parse_id(&request_id)?;
    decide_access_request(
        &state.services.db,
        tenant.id,
        id,
        AccessRequestStatus::Declined,
        staff.account.id,
        Utc::now(),
    )
    .await?;
    Ok(Redirect::see_other("/staff/access-requests"))
}
