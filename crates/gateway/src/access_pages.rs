//! "Request your credential": the public form on a firm's host, and the staff's list
//! at `/staff/access-requests` with Approve (creates the contact under a chosen
//! client) and Decline.

use std::sync::Arc;

use chrono::Utc;
use identity::{
    AccessRequestStatus, AccountKind, Actor, AuditAction, EmailAddress, IdentityError,
    NewAccessRequest, NewAuditEvent, NewContact, create_contact, decide_access_request,
    find_access_request, find_client, list_clients, pending_access_requests, record_audit,
};
use minijinja::context;
use poem::http::StatusCode;
use poem::web::cookie::CookieJar;
use poem::web::{Data, Form, Html, Path, Redirect};
use poem::{IntoResponse, Response, handler};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use tenancy::Tenant;

use crate::app::AppState;
use crate::auth::{require_admin, require_staff};
use crate::csrf::{CsrfToken, CsrfVerifier};
use crate::emails::{Invitee, queue_invitation};
use crate::error::GatewayError;
use crate::forms::{check_csrf, parse_id, record_limited};
use crate::intake::{BucketLimit, Record};
use crate::request_context::ClientAddress;
use crate::templates::{firm_value, serialized};

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AccessForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    message: String,
    #[serde(default, skip_serializing)]
    csrf_token: String,
}

fn form_page(
    state: &AppState,
    tenant: &Tenant,
    csrf: CsrfToken,
    values: &AccessForm,
    error: Option<(&str, &str)>,
) -> Result<Html<String>, GatewayError> {
    let context = context! {
        firm => firm_value(tenant),
        csrf_token => csrf.0.clone(),
        values => serialized(values),
        error_field => error.map(|(field, _)| field),
        error => error.map(|(_, message)| message),
    };
    Ok(Html(
        state.templates.render("request_access.html", context)?,
    ))
}

#[handler]
pub async fn request_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    form_page(&state, &tenant, csrf, &AccessForm::default(), None)
}

#[handler]
pub async fn submit_request(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    csrf: CsrfToken,
    verifier: CsrfVerifier,
    client: Data<&ClientAddress>,
    Form(form): Form<AccessForm>,
) -> Result<Response, GatewayError> {
    check_csrf(&verifier, &form.csrf_token)?;
    let checked = EmailAddress::parse(&form.email)
        .map_err(|_| ("email", "Enter an email address, like name@example.com."))
        .and_then(|email| {
            NewAccessRequest::new(&form.name, email, &form.company, &form.message).map_err(
                |field| match field {
                    "name" => ("name", "Enter your name (up to 200 characters)."),
                    "company" => ("company", "The company name can have up to 200 characters."),
                    _ => ("message", "The message can have up to 2000 characters."),
                },
            )
        });
    // Refused forms count against the limit too. The firm's staff are told by the
    // processor, so that this page only records.
    let record = checked
        .as_ref()
        .ok()
        .map(|new| Record::AccessRequest(tenant.id, new.clone()));
    let per_firm = BucketLimit {
        bucket: format!("access-request:firm:{}", tenant.id),
        max: state.settings.limits.access_requests_per_firm_per_hour,
        window: chrono::Duration::hours(1),
    };
    record_limited(&state, "access-request", **client, vec![per_firm], record).await?;
    if let Err((field, message)) = checked {
        return Ok(
            form_page(&state, &tenant, csrf, &form, Some((field, message)))?
                .with_status(StatusCode::UNPROCESSABLE_ENTITY)
                .into_response(),
        );
    }
    state.reset_requests.notify_one();
    // Recorded in the database; the processor logs what came of it.
    tracing::debug!("access requested");
    let page = state.templates.render(
        "request_access_sent.html",
        context! { firm => firm_value(&tenant) },
    )?;
    Ok(Html(page).into_response())
}

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
    jar: &CookieJar,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    let staff = require_staff(&state, &tenant, jar).await?;
    let requests: Vec<RequestView> = pending_access_requests(&state.db, tenant.id, 200)
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
    let clients: Vec<ClientOption> = list_clients(&state.db, tenant.id, None, 1, 200)
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
        staff => serialized(crate::staff_pages::StaffView::of(&staff.account)),
        csrf_token => csrf.0.clone(),
        section => "access",
        requests => serialized(requests),
        clients => serialized(clients),
    };
    Ok(Html(
        state
            .templates
            .render("staff_access_requests.html", context)?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    csrf_token: String,
}

/// Approve: the contact is created (invited) under the chosen client, and the request
/// is marked approved, together.
#[handler]
pub async fn approve(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    verifier: CsrfVerifier,
    client: Data<&ClientAddress>,
    Path(request_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    check_csrf(&verifier, &form.csrf_token)?;
    let request = find_access_request(&state.db, tenant.id, parse_id(&request_id)?)
        .await?
        .filter(|request| request.status == AccessRequestStatus::Pending)
        .ok_or(GatewayError::NotFound)?;
    let firm_client = find_client(
        &state.db,
        tenant.id,
        parse_id(&form.client_id).map_err(|_| GatewayError::BadForm)?,
    )
    .await?
    .ok_or(GatewayError::BadForm)?;
    let now = Utc::now();
    let txn = state.db.begin().await.map_err(GatewayError::internal)?;
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
    let queued = queue_invitation(&txn, &state, &tenant, invitee).await?;
    txn.commit().await.map_err(GatewayError::internal)?;
    state.waker.notify(&queued);
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
    jar: &CookieJar,
    verifier: CsrfVerifier,
    Path(request_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Redirect, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    check_csrf(&verifier, &form.csrf_token)?;
    let id = parse_id(&request_id)?;
    decide_access_request(
        &state.db,
        tenant.id,
        id,
        AccessRequestStatus::Declined,
        staff.account.id,
        Utc::now(),
    )
    .await?;
    Ok(Redirect::see_other("/staff/access-requests"))
}
