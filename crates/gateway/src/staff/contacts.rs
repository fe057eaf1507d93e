//! A client's contacts: the list, the contact forms, the contact's page and its
//! **Reset Password** button (reference 000).

use std::sync::Arc;

use identity::{
    Client, Contact, EmailAddress, IdentityError, NewContact, StaffUser, find_contact,
    list_contacts,
};
use minijinja::context;
use notification::{EmailKind, OutboxStatus};
use poem::web::{Data, Html, Path, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::{Deserialize, Serialize};
use service::ServiceError;
use service::accounts::{self, Inviter};
use tenancy::{AccountRef, Tenant};

use super::clients::firm_client;
use super::views::{ClientView, ContactView, FieldErrors, form_errors, render, staff_context};
use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::{AdminSession, CsrfForm, StaffSession};
use crate::http::forms::parse_id;
use crate::http::request_context::ClientAddress;
use crate::http::session::SignedIn;
use crate::http::templates::serialized;
use crate::state::AppState;

/// A client's "Contacts" tab, with a Reset Password button beside each contact.
#[handler]
pub async fn contacts(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    StaffSession(staff): StaffSession,
    csrf: CsrfToken,
    Path(client_id): Path<String>,
    Query(query): Query<ContactsQuery>,
) -> Result<Html<String>, GatewayError> {
    let client = firm_client(&state, &tenant, &client_id).await?;
    let contacts = list_contacts(&state.services.db, tenant.id, client.id).await?;
    let mut views = Vec::with_capacity(contacts.len());
    for contact in &contacts {
        let mut view = ContactView::of(contact);
        view.delivery = notification::last_status(
            &state.services.db,
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
        "staff/contacts.html",
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
}

/// The contact form shown again with what was typed and why it was refused.
struct RefusedContactForm<'a> {
    state: &'a AppState,
    tenant: &'a Tenant,
    staff: &'a SignedIn<StaffUser>,
    client: &'a Client,
    /// The contact being edited; `None` for a new one.
    contact: Option<&'a Contact>,
    form: &'a ContactForm,
}

impl RefusedContactForm<'_> {
    fn render(
        &self,
        csrf: CsrfToken,
        errors: &[(&'static str, String)],
    ) -> Result<Response, GatewayError> {
        let form = self.form;
        let context = context! {
            client => serialized(ClientView::of(self.client)),
            contact => self.contact.map(|contact| serialized(ContactView::of(contact))),
            values => context! {
                name => form.name.clone(), email => form.email.clone(), locale => form.locale.clone(),
                status => form.status.clone(),
            },
            errors => form_errors(errors),
        };
        let page = render(
            self.state,
            "staff/contact_form.html",
            staff_context(self.tenant, self.staff, csrf, "clients", context),
        )?;
        Ok(page
            .with_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY)
            .into_response())
    }
}

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

#[handler]
pub async fn new_contact_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    Path(client_id): Path<String>,
) -> Result<Html<String>, GatewayError> {
    let client = firm_client(&state, &tenant, &client_id).await?;
    let context = context! { client => serialized(ClientView::of(&client)), values => context! { locale => tenant.settings.default_locale.clone() } };
    render(
        &state,
        "staff/contact_form.html",
        staff_context(&tenant, &staff, csrf, "clients", context),
    )
}

#[handler]
pub async fn new_contact(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    client_address: Data<&ClientAddress>,
    Path(client_id): Path<String>,
    CsrfForm(form): CsrfForm<ContactForm>,
) -> Result<Response, GatewayError> {
    let client = firm_client(&state, &tenant, &client_id).await?;
    let refused = RefusedContactForm {
        state: &state,
        tenant: &tenant,
        staff: &staff,
        client: &client,
        contact: None,
        form: &form,
    };
    let invalid = |errors: FieldErrors| refused.render(csrf, &errors);
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
    let inviter = Inviter::staff(staff.account.id, client_address.0.0);
    match accounts::invite_contact(&state.services, &tenant, new, inviter).await {
        Ok(_) => {}
        Err(ServiceError::Identity(IdentityError::EmailTaken)) => {
            return invalid(vec![(
                "email",
                "A contact with this email address already exists.".to_owned(),
            )]);
        }
        Err(error) => return Err(error.into()),
    }
    Ok(Redirect::see_other(format!("/staff/clients/{}/contacts", client.id)).into_response())
}

async fn client_contact(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    raw_id: &str,
) -> Result<Contact, GatewayError> {
    find_contact(&state.services.db, tenant.id, parse_id(raw_id)?)
        .await?
        .filter(|contact| contact.client_id == client.id)
        .ok_or(GatewayError::NotFound)
}

#[handler]
pub async fn edit_contact_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    Path((client_id, contact_id)): Path<(String, String)>,
) -> Result<Html<String>, GatewayError> {
    let client = firm_client(&state, &tenant, &client_id).await?;
    let contact = client_contact(&state, &tenant, &client, &contact_id).await?;
    let context = context! {
        client => serialized(ClientView::of(&client)),
        contact => serialized(ContactView::of(&contact)),
        values => serialized(ContactView::of(&contact)),
    };
    render(
        &state,
        "staff/contact_form.html",
        staff_context(&tenant, &staff, csrf, "clients", context),
    )
}

#[handler]
pub async fn edit_contact(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    Path((client_id, contact_id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ContactForm>,
) -> Result<Response, GatewayError> {
    let client = firm_client(&state, &tenant, &client_id).await?;
    let contact = client_contact(&state, &tenant, &client, &contact_id).await?;
    let refused = RefusedContactForm {
        state: &state,
        tenant: &tenant,
        staff: &staff,
        client: &client,
        contact: Some(&contact),
        form: &form,
    };
    let invalid = |errors: FieldErrors| refused.render(csrf, &errors);
    let (name, email, locale) = match check_contact_form(&form) {
        Ok(valid) => valid,
        Err(errors) => return invalid(errors),
    };
    let disabled = form.status.as_deref() == Some("disabled");
    let edit = accounts::edit_contact(
        &state.services,
        &tenant,
        &contact,
        name,
        email,
        locale,
        disabled,
    );
    match edit.await {
        Ok(()) => Ok(
            Redirect::see_other(format!("/staff/clients/{}/contacts", client.id)).into_response(),
        ),
        Err(ServiceError::Identity(IdentityError::EmailTaken)) => invalid(vec![(
            "email",
            "A contact with this email address already exists.".to_owned(),
        )]),
        Err(error) => Err(error.into()),
    }
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
    StaffSession(staff): StaffSession,
    csrf: CsrfToken,
    Path((client_id, contact_id)): Path<(String, String)>,
) -> Result<Html<String>, GatewayError> {
    let client = firm_client(&state, &tenant, &client_id).await?;
    let contact = client_contact(&state, &tenant, &client, &contact_id).await?;
    let history: Vec<HistoryView> = identity::account_history(
        &state.services.db,
        tenant.id,
        AccountRef::Contact(contact.id),
        50,
    )
    .await?
    .into_iter()
    .map(|event| HistoryView {
        when: event.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        what: identity::AuditAction::describe(&event.action),
        who: match (event.actor_kind.as_str(), event.actor_id) {
            ("contact", Some(id)) if id == contact.id.as_uuid() => "the contact".to_owned(),
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
        "staff/contact.html",
        staff_context(&tenant, &staff, csrf, "clients", context),
    )
}

/// Figure 5's orange button: supersedes the contact's older links, mints a new one
/// and queues the Password Reset email, in one transaction. With JavaScript the page
/// asks for JSON and the button briefly reads "Success"; without it the form posts
/// and the Contacts tab shows a notice.
#[handler]
pub async fn reset_password(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    StaffSession(staff): StaffSession,
    client: Data<&ClientAddress>,
    headers: &poem::http::HeaderMap,
    Path((client_id, contact_id)): Path<(String, String)>,
    _: CsrfForm,
) -> Result<Response, GatewayError> {
    let contact = service::resets::staff_reset(
        &state.services,
        &tenant,
        staff.account.id,
        parse_id(&client_id)?,
        parse_id(&contact_id)?,
        client.0.0,
    )
    .await?;
    if crate::http::error::is_fetch(headers) {
        return Ok(poem::web::Json(serde_json::json!({ "status": "queued" })).into_response());
    }
    Ok(Redirect::see_other(format!(
        "/staff/clients/{}/contacts?reset={}",
        contact.client_id, contact.id
    ))
    .into_response())
}
