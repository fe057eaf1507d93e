//! A client's contacts: the list, the contact forms, the contact's page and its
//! **Reset Password** button (reference 000).

use std::sync::Arc;

use identity::{
    Client, Contact, EmailAddress, IdentityError, NewContact, find_contact, list_contacts,
};
use minijinja::context;
use notification::{EmailKind, OutboxStatus};
use poem::web::{Data, Html, Path, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::{Deserialize, Serialize};
use service::ServiceError;
use service::accounts::{self, Inviter};
use tenancy::{AccountRef, Tenant};

use super::clients::{contacts_tab, firm_client};
use super::views::{ClientView, ContactView, FieldErrors, StaffPage, form_errors};
use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::{AdminSession, CsrfForm, StaffSession};
use crate::http::forms::{parse_id, refused};
use crate::http::request_context::ClientAddress;
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
    StaffPage::new(&state, &tenant, &staff, csrf, "clients").render("staff/contacts.html", context)
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

/// The form that adds a contact to a client, or edits one.
struct ContactFormPage<'a> {
    page: StaffPage<'a>,
    client: &'a Client,
    /// The contact being edited; `None` for a new one.
    contact: Option<&'a Contact>,
}

impl ContactFormPage<'_> {
    fn render(
        &self,
        values: minijinja::Value,
        errors: &[(&'static str, String)],
    ) -> Result<Html<String>, GatewayError> {
        let context = context! {
            client => serialized(ClientView::of(self.client)),
            contact => self.contact.map(|contact| serialized(ContactView::of(contact))),
            values,
            errors => form_errors(errors),
        };
        self.page.render("staff/contact_form.html", context)
    }

    /// The form again with what was typed and why it was refused.
    fn refused(
        &self,
        form: &ContactForm,
        errors: &[(&'static str, String)],
    ) -> Result<Response, GatewayError> {
        let values = context! {
            name => form.name.clone(), email => form.email.clone(), locale => form.locale.clone(),
            status => form.status.clone(),
        };
        Ok(refused(self.render(values, errors)?))
    }
}

fn email_taken() -> FieldErrors {
    vec![(
        "email",
        "A contact with this email address already exists.".to_owned(),
    )]
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
    let form_page = ContactFormPage {
        page: StaffPage::new(&state, &tenant, &staff, csrf, "clients"),
        client: &client,
        contact: None,
    };
    let locale = tenant.settings.default_locale.clone();
    form_page.render(context! { locale }, &[])
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
    let form_page = ContactFormPage {
        page: StaffPage::new(&state, &tenant, &staff, csrf, "clients"),
        client: &client,
        contact: None,
    };
    let (name, email, locale) = match check_contact_form(&form) {
        Ok(valid) => valid,
        Err(errors) => return form_page.refused(&form, &errors),
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
        Ok(_) => Ok(contacts_tab(client.id)),
        Err(ServiceError::Identity(IdentityError::EmailTaken)) => {
            form_page.refused(&form, &email_taken())
        }
        Err(error) => Err(error.into()),
    }
}

/// The firm's client and one of its contacts, from the ids in the path.
async fn client_and_contact(
    state: &AppState,
    tenant: &Tenant,
    raw_client_id: &str,
    raw_contact_id: &str,
) -> Result<(Client, Contact), GatewayError> {
    let client = firm_client(state, tenant, raw_client_id).await?;
    let contact = find_contact(&state.services.db, tenant.id, parse_id(raw_contact_id)?)
        .await?
        .filter(|contact| contact.client_id == client.id)
        .ok_or(GatewayError::NotFound)?;
    Ok((client, contact))
}

#[handler]
pub async fn edit_contact_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    Path((client_id, contact_id)): Path<(String, String)>,
) -> Result<Html<String>, GatewayError> {
    let (client, contact) = client_and_contact(&state, &tenant, &client_id, &contact_id).await?;
    let form_page = ContactFormPage {
        page: StaffPage::new(&state, &tenant, &staff, csrf, "clients"),
        client: &client,
        contact: Some(&contact),
    };
    form_page.render(serialized(ContactView::of(&contact)), &[])
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
    let (client, contact) = client_and_contact(&state, &tenant, &client_id, &contact_id).await?;
    let form_page = ContactFormPage {
        page: StaffPage::new(&state, &tenant, &staff, csrf, "clients"),
        client: &client,
        contact: Some(&contact),
    };
    let (name, email, locale) = match check_contact_form(&form) {
        Ok(valid) => valid,
        Err(errors) => return form_page.refused(&form, &errors),
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
        Ok(()) => Ok(contacts_tab(client.id)),
        Err(ServiceError::Identity(IdentityError::EmailTaken)) => {
            form_page.refused(&form, &email_taken())
        }
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
    let (client, contact) = client_and_contact(&state, &tenant, &client_id, &contact_id).await?;
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
    StaffPage::new(&state, &tenant, &staff, csrf, "clients").render("staff/contact.html", context)
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
