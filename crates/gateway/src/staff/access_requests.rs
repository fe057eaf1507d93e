//! The staff's list of credential requests at `/staff/access-requests`, with Approve
//! (creates the contact under a chosen client) and Decline.

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::{AdminSession, CsrfForm, StaffSession};
use crate::http::forms::parse_id;
use crate::http::request_context::ClientAddress;
use crate::http::templates::{firm_value, serialized};
use crate::state::AppState;
use chrono::Utc;
use identity::{
    AccessRequestStatus, AccountKind, Actor, AuditAction, IdentityError, NewAuditEvent, NewContact,
    create_contact, decide_access_request, find_access_request, find_client, list_clients,
    pending_access_requests, record_audit,
};
use minijinja::context;
use poem::web::{Data, Html, Path, Redirect};
use poem::{IntoResponse, Response, handler};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use service::emails::{Invitee, queue_invitation};
use std::sync::Arc;
use tenancy::Tenant;

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
        firm => firm_value(&tenant),
        staff => serialized(crate::staff::views::StaffView::of(&staff.account)),
        csrf_token => csrf.0.clone(),
        section => "access",
        requests => serialized(requests),
        clients => serialized(clients),
    };
    Ok(Html(
        state
            .templates
            .render("staff/access_requests.html", context)?,
    ))
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
    let request = find_access_request(&state.services.db, tenant.id, parse_id(&request_id)?)
        .await?
        .filter(|request| request.status == AccessRequestStatus::Pending)
        .ok_or(GatewayError::NotFound)?;
    let firm_client = find_client(
        &state.services.db,
        tenant.id,
        parse_id(&form.client_id).map_err(|_| GatewayError::BadForm)?,
    )
    .await?
    .ok_or(GatewayError::BadForm)?;
    let now = Utc::now();
    let txn = state
        .services
        .db
        .begin()
        .await
        .map_err(GatewayError::internal)?;
    decide_access_request(
        &txn,
        tenant.id,
        request.id,
        AccessRequestStatus::Approved,
        staff.account.id,
        now,
    )
    .await?;
    let new = NewContact {
        client_id: firm_client.id,
        name: request.name.clone(),
        email: request.email.clone(),
        locale: tenant.settings.default_locale.clone(),
        password_hash: None,
    };
    let contact = match create_contact(&txn, tenant.id, new, now).await {
        Ok(contact) => contact,
        Err(IdentityError::EmailTaken) => {
            return Ok(Redirect::see_other("/staff/access-requests?notice=exists").into_response());
        }
        Err(error) => return Err(error.into()),
    };
    let event = NewAuditEvent {
        action: AuditAction::Invited,
        actor: Actor::Staff(staff.account.id),
        subject_kind: AccountKind::Contact,
        subject_id: contact.id,
        client_address: client.0.0.map(|address| address.to_string()),
        detail: Some("approved an access request".to_owned()),
    };
    record_audit(&txn, tenant.id, event, now).await?;
    let invitee = Invitee::contact(&contact);
    let queued = queue_invitation(&txn, &state.services, &tenant, invitee).await?;
    txn.commit().await.map_err(GatewayError::internal)?;
    state.services.waker.notify(&queued);
    Ok(Redirect::see_other(format!(
        "/staff/clients/{}/contacts/{}",
        firm_client.id, contact.id
    ))
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
