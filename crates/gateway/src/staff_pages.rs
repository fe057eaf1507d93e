//! The staff portal: sign-in, all workspaces, Client Settings (All Firm Clients, a
//! client's Contacts), and the administrators' forms for clients, contacts and staff.

use std::sync::Arc;

use chrono::Utc;
use identity::{
    AccountKind, Client, ClientStatus, Contact, ContactChanges, ContactStatus, EmailAddress,
    IdentityError, NewContact, NewStaffUser, StaffRole, StaffUser, create_client, create_contact,
    create_staff_user, find_client, find_contact, list_clients, list_contacts, list_staff_users,
    rename_client, set_client_status, update_contact,
};
use minijinja::context;
use notification::{EmailKind, OutboxStatus};
use poem::web::cookie::CookieJar;
use poem::web::{Data, Form, Html, Path, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use tenancy::Tenant;

use crate::app::AppState;
use crate::auth::{SignedIn, current_staff, require_admin, require_staff};
use crate::auth::{end_session, start_session};
use crate::csrf::{CsrfToken, CsrfVerifier};
use crate::emails::{Invitee, queue_invitation};
use crate::error::GatewayError;
use crate::forms::{check_csrf, parse_id};
use crate::request_context::ClientAddress;
use crate::sign_in::{SignInOutcome, attempt_sign_in};
use crate::templates::{firm_value, serialized};

const CLIENTS_PER_PAGE: u64 = 50;

/// What the staff layout shows of the person signed in.
#[derive(Debug, Serialize)]
pub(crate) struct StaffView {
    name: String,
    email: String,
    is_admin: bool,
}

impl StaffView {
    pub(crate) fn of(user: &StaffUser) -> Self {
        Self {
            name: user.name.clone(),
            email: user.email.to_string(),
            is_admin: user.role == StaffRole::Admin,
        }
    }
}

#[derive(Debug, Serialize)]
struct ClientView {
    id: String,
    name: String,
    active: bool,
}

impl ClientView {
    fn of(client: &Client) -> Self {
        Self {
            id: client.id.to_string(),
            name: client.name.clone(),
            active: client.status == ClientStatus::Active,
        }
    }
}

#[derive(Debug, Serialize)]
struct ContactView {
    /// The last Password Reset email's delivery state, where one was sent.
    delivery: Option<&'static str>,
    id: String,
    name: String,
    email: String,
    locale: String,
    status: &'static str,
    last_sign_in: Option<String>,
}

impl ContactView {
    fn of(contact: &Contact) -> Self {
        Self {
            delivery: None,
            id: contact.id.to_string(),
            name: contact.name.clone(),
            email: contact.email.to_string(),
            locale: contact.locale.clone(),
            status: contact.status.as_str(),
            last_sign_in: contact
                .last_sign_in_at
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()),
        }
    }
}

pub(crate) fn render(
    state: &AppState,
    name: &str,
    context: minijinja::Value,
) -> Result<Html<String>, GatewayError> {
    Ok(Html(state.templates.render(name, context)?))
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    /// Missing is the same as wrong: refused with the CSRF page, not a parse error.
    #[serde(default)]
    csrf_token: String,
}

#[handler]
pub async fn login_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
) -> Result<Response, GatewayError> {
    if current_staff(&state, &tenant, jar).await?.is_some() {
        return Ok(Redirect::see_other("/staff/workspaces").into_response());
    }
    let page = render(
        &state,
        "staff_login.html",
        context! { firm => firm_value(&tenant), csrf_token => csrf.0.clone(), email => "" },
    )?;
    Ok(page.into_response())
}

#[handler]
pub async fn login(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    verifier: CsrfVerifier,
    client: Data<&ClientAddress>,
    Form(form): Form<SignInForm>,
) -> Result<Response, GatewayError> {
    check_csrf(&verifier, &form.csrf_token)?;
    let outcome = attempt_sign_in(
        &state,
        &tenant,
        AccountKind::Staff,
        &form.email,
        &form.password,
        **client,
    )
    .await?;
    let SignInOutcome::SignedIn { account_id, .. } = outcome else {
        let context = context! {
            firm => firm_value(&tenant),
            csrf_token => csrf.0.clone(),
            email => form.email.trim(),
            error => "Email or password is incorrect",
        };
        return Ok(render(&state, "staff_login.html", context)?.into_response());
    };
    // A session from before sign-in is never kept: a new id every time.
    start_session(&state, &tenant, jar, AccountKind::Staff, account_id).await?;
    tracing::info!("staff signed in");
    Ok(Redirect::see_other("/staff/workspaces").into_response())
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnlyForm {
    /// Missing is the same as wrong: refused with the CSRF page, not a parse error.
    #[serde(default)]
    csrf_token: String,
}

#[handler]
pub async fn logout(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    verifier: CsrfVerifier,
    Form(form): Form<CsrfOnlyForm>,
) -> Result<Redirect, GatewayError> {
    check_csrf(&verifier, &form.csrf_token)?;
    end_session(&state, &tenant, jar, AccountKind::Staff).await?;
    Ok(Redirect::see_other("/staff/login"))
}

#[handler]
pub fn staff_home() -> Redirect {
    Redirect::see_other("/staff/workspaces")
}

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
    jar: &CookieJar,
    csrf: CsrfToken,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, GatewayError> {
    let staff = require_staff(&state, &tenant, jar).await?;
    let page = list_clients(
        &state.db,
        tenant.id,
        query.q.as_deref(),
        query.page.unwrap_or(1),
        CLIENTS_PER_PAGE,
    )
    .await?;
    render(
        &state,
        "staff_workspaces.html",
        staff_context(
            &tenant,
            &staff,
            csrf,
            "workspaces",
            context! {
                clients => serialized(page.clients.iter().map(ClientView::of).collect::<Vec<_>>()),
                total => page.total,
                page => page.page,
                pages => page.pages(),
                q => query.q.unwrap_or_default(),
            },
        ),
    )
}

/// "Client Settings: All Firm Clients".
#[handler]
pub async fn clients(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, GatewayError> {
    let staff = require_staff(&state, &tenant, jar).await?;
    let page = list_clients(
        &state.db,
        tenant.id,
        query.q.as_deref(),
        query.page.unwrap_or(1),
        CLIENTS_PER_PAGE,
    )
    .await?;
    render(
        &state,
        "staff_clients.html",
        staff_context(
            &tenant,
            &staff,
            csrf,
            "clients",
            context! {
                clients => serialized(page.clients.iter().map(ClientView::of).collect::<Vec<_>>()),
                total => page.total,
                page => page.page,
                pages => page.pages(),
                q => query.q.unwrap_or_default(),
            },
        ),
    )
}

pub(crate) fn staff_context(
    tenant: &Tenant,
    staff: &SignedIn<StaffUser>,
    csrf: CsrfToken,
    section: &str,
    page: minijinja::Value,
) -> minijinja::Value {
    context! {
        firm => firm_value(tenant),
        staff => serialized(StaffView::of(&staff.account)),
        csrf_token => csrf.0.clone(),
        section,
        ..page
    }
}

#[derive(Debug, Deserialize)]
pub struct ClientForm {
    name: String,
    #[serde(default)]
    status: Option<String>,
    /// Missing is the same as wrong: refused with the CSRF page, not a parse error.
    #[serde(default)]
    csrf_token: String,
}

#[handler]
pub async fn new_client_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    render(
        &state,
        "staff_client_form.html",
        staff_context(&tenant, &staff, csrf, "clients", context! { name => "" }),
    )
}

#[handler]
pub async fn new_client(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    verifier: CsrfVerifier,
    Form(form): Form<ClientForm>,
) -> Result<Response, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    check_csrf(&verifier, &form.csrf_token)?;
    match create_client(&state.db, tenant.id, &form.name, Utc::now()).await {
        Ok(client) => Ok(
            Redirect::see_other(format!("/staff/clients/{}/contacts", client.id)).into_response(),
        ),
        Err(IdentityError::InvalidName) => {
            let context = context! { name => form.name, error => "Enter the client's name (up to 200 characters)." };
            Ok(render(
                &state,
                "staff_client_form.html",
                staff_context(&tenant, &staff, csrf, "clients", context),
            )?
            .with_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY)
            .into_response())
        }
        Err(error) => Err(error.into()),
    }
}

async fn firm_client(
    state: &AppState,
    tenant: &Tenant,
    raw_id: &str,
) -> Result<Client, GatewayError> {
    find_client(&state.db, tenant.id, parse_id(raw_id)?)
        .await?
        .ok_or(GatewayError::NotFound)
}

#[handler]
pub async fn edit_client_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    Path(client_id): Path<String>,
) -> Result<Html<String>, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    let client = firm_client(&state, &tenant, &client_id).await?;
    let context = context! { client => serialized(ClientView::of(&client)), name => client.name };
    render(
        &state,
        "staff_client_form.html",
        staff_context(&tenant, &staff, csrf, "clients", context),
    )
}

#[handler]
pub async fn edit_client(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    verifier: CsrfVerifier,
    Path(client_id): Path<String>,
    Form(form): Form<ClientForm>,
) -> Result<Response, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    check_csrf(&verifier, &form.csrf_token)?;
    let client = firm_client(&state, &tenant, &client_id).await?;
    let now = Utc::now();
    match rename_client(&state.db, tenant.id, client.id, &form.name, now).await {
        Ok(()) => {}
        Err(IdentityError::InvalidName) => {
            let context = context! {
                client => serialized(ClientView::of(&client)),
                name => form.name,
                error => "Enter the client's name (up to 200 characters).",
            };
            return Ok(render(
                &state,
                "staff_client_form.html",
                staff_context(&tenant, &staff, csrf, "clients", context),
            )?
            .with_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY)
            .into_response());
        }
        Err(error) => return Err(error.into()),
    }
    let status = if form.status.as_deref() == Some("disabled") {
        ClientStatus::Disabled
    } else {
        ClientStatus::Active
    };
    // Disabling a client locks its contacts out: their sessions and links end with it,
    // and links sent while it was disabled end when it is enabled again.
    let txn = state.db.begin().await.map_err(GatewayError::internal)?;
    set_client_status(&txn, tenant.id, client.id, status, now).await?;
    if status != client.status {
        for contact in list_contacts(&txn, tenant.id, client.id).await? {
            end_contact_access(&txn, &tenant, contact.id, status == ClientStatus::Disabled).await?;
        }
    }
    txn.commit().await.map_err(GatewayError::internal)?;
    Ok(Redirect::see_other(format!("/staff/clients/{}/contacts", client.id)).into_response())
}

/// A client's "Contacts" tab, with a Reset Password button beside each contact.
#[handler]
pub async fn contacts(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    Path(client_id): Path<String>,
    Query(query): Query<ContactsQuery>,
) -> Result<Html<String>, GatewayError> {
    let staff = require_staff(&state, &tenant, jar).await?;
    let client = firm_client(&state, &tenant, &client_id).await?;
    let contacts = list_contacts(&state.db, tenant.id, client.id).await?;
    let mut views = Vec::with_capacity(contacts.len());
    for contact in &contacts {
        let mut view = ContactView::of(contact);
        view.delivery = notification::last_status(
            &state.db,
            tenant.id,
            EmailKind::PasswordReset,
            contact.email.as_str(),
        )
        .await
        .map_err(GatewayError::internal)?
        .map(|status| match status {
            OutboxStatus::Queued | OutboxStatus::Sending => "queued",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Dead => "failed",
        });
        views.push(view);
    }
    let reset_for = query
        .reset
        .and_then(|id| contacts.iter().find(|contact| contact.id.to_string() == id))
        .map(|contact| contact.name.clone());
    let context = context! {
        client => serialized(ClientView::of(&client)),
        contacts => serialized(views),
        reset_for,
    };
    render(
        &state,
        "staff_contacts.html",
        staff_context(&tenant, &staff, csrf, "clients", context),
    )
}

#[derive(Debug, Deserialize)]
pub struct ContactsQuery {
    /// The contact a Password Reset was just sent to (the no-JavaScript path).
    reset: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ContactForm {
    name: String,
    email: String,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    status: Option<String>,
    /// Missing is the same as wrong: refused with the CSRF page, not a parse error.
    #[serde(default)]
    csrf_token: String,
}

/// Messages by form field name.
pub(crate) type FieldErrors = Vec<(&'static str, String)>;

/// Checks a contact form, giving one message per field.
fn check_contact_form(form: &ContactForm) -> Result<(String, EmailAddress, String), FieldErrors> {
    let mut errors = Vec::new();
    let name = form.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        errors.push((
            "name",
            "Enter the contact's name (up to 200 characters).".to_owned(),
        ));
    }
    let email = EmailAddress::parse(&form.email);
    if let Err(error) = &email {
        errors.push(("email", error.to_string()));
    }
    let locale = form
        .locale
        .clone()
        .filter(|l| l == "en" || l == "it")
        .unwrap_or_else(|| "en".to_owned());
    match email {
        Ok(email) if errors.is_empty() => Ok((name, email, locale)),
        _ => Err(errors),
    }
}

pub(crate) fn form_errors(errors: &[(&'static str, String)]) -> minijinja::Value {
    let by_field: std::collections::BTreeMap<&str, &str> = errors
        .iter()
        .map(|(field, message)| (*field, message.as_str()))
        .collect();
    serialized(by_field)
}

#[handler]
pub async fn new_contact_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    Path(client_id): Path<String>,
) -> Result<Html<String>, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    let client = firm_client(&state, &tenant, &client_id).await?;
    let context = context! { client => serialized(ClientView::of(&client)), values => context! { locale => tenant.settings.default_locale.clone() } };
    render(
        &state,
        "staff_contact_form.html",
        staff_context(&tenant, &staff, csrf, "clients", context),
    )
}

#[handler]
pub async fn new_contact(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    verifier: CsrfVerifier,
    Path(client_id): Path<String>,
    Form(form): Form<ContactForm>,
) -> Result<Response, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    check_csrf(&verifier, &form.csrf_token)?;
    let client = firm_client(&state, &tenant, &client_id).await?;
    let invalid = |errors: FieldErrors| -> Result<Response, GatewayError> {
        let context = context! {
            client => serialized(ClientView::of(&client)),
            values => context! { name => form.name.clone(), email => form.email.clone(), locale => form.locale.clone() },
            errors => form_errors(&errors),
        };
        Ok(render(
            &state,
            "staff_contact_form.html",
            staff_context(&tenant, &staff, csrf, "clients", context),
        )?
        .with_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY)
        .into_response())
    };
    let (name, email, locale) = match check_contact_form(&form) {
        Ok(valid) => valid,
        Err(errors) => return invalid(errors),
    };
    let new = NewContact {
        client_id: client.id,
        name,
        email,
        locale,
        password_hash: None,
    };
    // The contact and its invitation: both or neither.
    let txn = state.db.begin().await.map_err(GatewayError::internal)?;
    let contact = match create_contact(&txn, tenant.id, new, Utc::now()).await {
        Ok(contact) => contact,
        Err(IdentityError::EmailTaken) => {
            return invalid(vec![(
                "email",
                "A contact with this email address already exists.".to_owned(),
            )]);
        }
        Err(error) => return Err(error.into()),
    };
    let invitee = Invitee::contact(&contact);
    let queued = queue_invitation(&txn, &state, &tenant, invitee).await?;
    txn.commit().await.map_err(GatewayError::internal)?;
    state.waker.notify(&queued);
    Ok(Redirect::see_other(format!("/staff/clients/{}/contacts", client.id)).into_response())
}

async fn client_contact(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    raw_id: &str,
) -> Result<Contact, GatewayError> {
    find_contact(&state.db, tenant.id, parse_id(raw_id)?)
        .await?
        .filter(|contact| contact.client_id == client.id)
        .ok_or(GatewayError::NotFound)
}

#[handler]
pub async fn edit_contact_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    Path((client_id, contact_id)): Path<(String, String)>,
) -> Result<Html<String>, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    let client = firm_client(&state, &tenant, &client_id).await?;
    let contact = client_contact(&state, &tenant, &client, &contact_id).await?;
    let context = context! {
        client => serialized(ClientView::of(&client)),
        contact => serialized(ContactView::of(&contact)),
        values => serialized(ContactView::of(&contact)),
    };
    render(
        &state,
        "staff_contact_form.html",
        staff_context(&tenant, &staff, csrf, "clients", context),
    )
}

#[handler]
pub async fn edit_contact(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    verifier: CsrfVerifier,
    Path((client_id, contact_id)): Path<(String, String)>,
    Form(form): Form<ContactForm>,
) -> Result<Response, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    check_csrf(&verifier, &form.csrf_token)?;
    let client = firm_client(&state, &tenant, &client_id).await?;
    let contact = client_contact(&state, &tenant, &client, &contact_id).await?;
    let invalid = |errors: FieldErrors| -> Result<Response, GatewayError> {
        let context = context! {
            client => serialized(ClientView::of(&client)),
            contact => serialized(ContactView::of(&contact)),
            values => context! {
                name => form.name.clone(), email => form.email.clone(), locale => form.locale.clone(),
                status => form.status.clone(),
            },
            errors => form_errors(&errors),
        };
        Ok(render(
            &state,
            "staff_contact_form.html",
            staff_context(&tenant, &staff, csrf, "clients", context),
        )?
        .with_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY)
        .into_response())
    };
    let (name, email, locale) = match check_contact_form(&form) {
        Ok(valid) => valid,
        Err(errors) => return invalid(errors),
    };
    let status = match form.status.as_deref() {
        Some("disabled") => ContactStatus::Disabled,
        // Re-enabling a contact that never set a password leaves it invited.
        _ if contact.password_hash.is_none() => ContactStatus::Invited,
        _ => ContactStatus::Active,
    };
    let changes = ContactChanges {
        name,
        email,
        locale,
        status,
    };
    let email_changed = changes.email != contact.email;
    let status_changed = status != contact.status;
    // A link or an invitation sent to the old (perhaps mistyped) address, or before a
    // disable, must not set a password now; a session must not outlive the address
    // it signed in with, nor the disable. All with the edit or not at all.
    let txn = state.db.begin().await.map_err(GatewayError::internal)?;
    match update_contact(&txn, tenant.id, contact.id, changes, Utc::now()).await {
        Ok(()) => {
            if email_changed || status_changed {
                let end_sessions = email_changed || status == ContactStatus::Disabled;
                end_contact_access(&txn, &tenant, contact.id, end_sessions).await?;
            }
            txn.commit().await.map_err(GatewayError::internal)?;
            Ok(
                Redirect::see_other(format!("/staff/clients/{}/contacts", client.id))
                    .into_response(),
            )
        }
        Err(IdentityError::EmailTaken) => invalid(vec![(
            "email",
            "A contact with this email address already exists.".to_owned(),
        )]),
        Err(error) => Err(error.into()),
    }
}

/// Ends every live link of a contact and, with `sessions`, every session: what an
/// email change, a disable or a re-enable (of the contact or its client) requires.
async fn end_contact_access(
    txn: &impl sea_orm::ConnectionTrait,
    tenant: &Tenant,
    contact_id: uuid::Uuid,
    sessions: bool,
) -> Result<(), GatewayError> {
    reset_token::revoke_tokens(
        txn,
        tenant.id,
        AccountKind::Contact.as_str(),
        contact_id,
        None,
    )
    .await
    .map_err(GatewayError::internal)?;
    if sessions {
        identity::revoke_all_sessions(txn, tenant.id, AccountKind::Contact, contact_id, None)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct TeamMemberView {
    name: String,
    email: String,
    role: &'static str,
    status: &'static str,
}

async fn team_page(
    state: &AppState,
    tenant: &Tenant,
    staff: &SignedIn<StaffUser>,
    csrf: CsrfToken,
    extra: minijinja::Value,
) -> Result<Html<String>, GatewayError> {
    let members: Vec<TeamMemberView> = list_staff_users(&state.db, tenant.id)
        .await?
        .iter()
        .map(|user| TeamMemberView {
            name: user.name.clone(),
            email: user.email.to_string(),
            role: user.role.as_str(),
            status: user.status.as_str(),
        })
        .collect();
    render(
        state,
        "staff_team.html",
        staff_context(
            tenant,
            staff,
            csrf,
            "team",
            context! { members => serialized(members), ..extra },
        ),
    )
}

#[handler]
pub async fn team(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    team_page(&state, &tenant, &staff, csrf, context! {}).await
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    name: String,
    email: String,
    role: String,
    /// Missing is the same as wrong: refused with the CSRF page, not a parse error.
    #[serde(default)]
    csrf_token: String,
}

/// Invites a staff member: the account exists, invited, until a password is set.
#[handler]
pub async fn invite(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    verifier: CsrfVerifier,
    Form(form): Form<InviteForm>,
) -> Result<Response, GatewayError> {
    let staff = require_admin(&state, &tenant, jar).await?;
    check_csrf(&verifier, &form.csrf_token)?;
    let mut errors: FieldErrors = Vec::new();
    let email = EmailAddress::parse(&form.email);
    if let Err(error) = &email {
        errors.push(("email", error.to_string()));
    }
    let role = StaffRole::parse(&form.role);
    if role.is_none() {
        errors.push(("role", "Choose a role.".to_owned()));
    }
    if let (Ok(email), Some(role)) = (email, role) {
        let new = NewStaffUser {
            email,
            name: form.name.clone(),
            role,
            password_hash: None,
        };
        let txn = state.db.begin().await.map_err(GatewayError::internal)?;
        match create_staff_user(&txn, tenant.id, new, Utc::now()).await {
            Ok(user) => {
                let invitee = Invitee::staff(&user);
                let queued = queue_invitation(&txn, &state, &tenant, invitee).await?;
                txn.commit().await.map_err(GatewayError::internal)?;
                state.waker.notify(&queued);
                return Ok(Redirect::see_other("/staff/team").into_response());
            }
            Err(IdentityError::InvalidName) => {
                errors.push(("name", "Enter a name (up to 200 characters).".to_owned()))
            }
            Err(IdentityError::EmailTaken) => errors.push((
                "email",
                "A staff member with this email address already exists.".to_owned(),
            )),
            Err(error) => return Err(error.into()),
        }
    }
    let extra = context! {
        values => context! { name => form.name, email => form.email, role => form.role },
        errors => form_errors(&errors),
    };
    Ok(team_page(&state, &tenant, &staff, csrf, extra)
        .await?
        .with_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY)
        .into_response())
}

#[derive(Debug, Serialize)]
struct HistoryView {
    when: String,
    what: &'static str,
    who: String,
    from: Option<String>,
}

/// A contact's details and history, for every staff member.
#[handler]
pub async fn contact_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    Path((client_id, contact_id)): Path<(String, String)>,
) -> Result<Html<String>, GatewayError> {
    let staff = require_staff(&state, &tenant, jar).await?;
    let client = firm_client(&state, &tenant, &client_id).await?;
    let contact = client_contact(&state, &tenant, &client, &contact_id).await?;
    let history: Vec<HistoryView> = identity::account_history(&state.db, tenant.id, contact.id, 50)
        .await?
        .into_iter()
        .map(|event| HistoryView {
            when: event.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            what: identity::AuditAction::describe(&event.action),
            who: match (event.actor_kind.as_str(), event.actor_id) {
                ("contact", Some(id)) if id == contact.id => "the contact".to_owned(),
                ("staff", Some(_)) => "staff".to_owned(),
                ("system", _) => "Latchkey".to_owned(),
                _ => "someone not signed in".to_owned(),
            },
            from: event.client_address,
        })
        .collect();
    let context = context! {
        client => serialized(ClientView::of(&client)),
        contact => serialized(ContactView::of(&contact)),
        history => serialized(history),
    };
    render(
        &state,
        "staff_contact.html",
        staff_context(&tenant, &staff, csrf, "clients", context),
    )
}

/// Figure 5's orange button: supersedes the contact's older links, mints a new one
/// and queues the Password Reset email, in one transaction. With JavaScript the page
/// asks for JSON and the button briefly reads "Success"; without it the form posts
/// and the Contacts tab shows a notice.
#[handler]
#[allow(clippy::too_many_arguments)]
pub async fn reset_password(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    verifier: CsrfVerifier,
    client: Data<&ClientAddress>,
    headers: &poem::http::HeaderMap,
    Path((client_id, contact_id)): Path<(String, String)>,
    Form(form): Form<CsrfOnlyForm>,
) -> Result<Response, GatewayError> {
    let staff = require_staff(&state, &tenant, jar).await?;
    check_csrf(&verifier, &form.csrf_token)?;
    let firm_client = firm_client(&state, &tenant, &client_id).await?;
    let contact = client_contact(&state, &tenant, &firm_client, &contact_id).await?;
    if firm_client.status == ClientStatus::Disabled {
        return Err(GatewayError::ClientDisabled);
    }
    if contact.status == ContactStatus::Disabled {
        return Err(GatewayError::ContactDisabled);
    }
    crate::emails::issue_contact_reset(
        &state,
        &tenant,
        &contact,
        identity::Actor::Staff(staff.account.id),
        client.0.0.map(|address| address.to_string()),
    )
    .await?;
    tracing::info!(contact = %contact.id, "staff sent a password reset");
    if crate::error::is_fetch(headers) {
        return Ok(poem::web::Json(serde_json::json!({ "status": "queued" })).into_response());
    }
    Ok(Redirect::see_other(format!(
        "/staff/clients/{}/contacts?reset={}",
        firm_client.id, contact.id
    ))
    .into_response())
}
