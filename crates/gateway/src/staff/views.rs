//! What every staff page shows: the signed-in person, the firm, and the lists' rows.

use identity::{Client, ClientStatus, Contact, StaffRole, StaffUser};
use minijinja::context;
use poem::Response;
use poem::web::Html;
use serde::Serialize;
use tenancy::Tenant;

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::forms::refused;
use crate::http::session::SignedIn;
use crate::http::templates::{firm_value, serialized};
use crate::state::AppState;

/// What the staff layout shows of the person signed in.
#[derive(Debug, Serialize)]
pub(crate) struct StaffView {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) is_admin: bool,
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
pub(crate) struct ClientView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) active: bool,
}

impl ClientView {
    pub(crate) fn of(client: &Client) -> Self {
        Self {
            id: client.id.to_string(),
            name: client.name.clone(),
            active: client.status == ClientStatus::Active,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ContactView {
    /// The last Password Reset email's delivery state, where one was sent.
    pub(crate) delivery: Option<&'static str>,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) locale: String,
    pub(crate) status: &'static str,
    pub(crate) last_sign_in: Option<String>,
}

impl ContactView {
    pub(crate) fn of(contact: &Contact) -> Self {
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

/// A page of the staff area, for the person signed in: every staff template's layout
/// shows the firm, that person, the token for its forms and the section it is in.
pub(crate) struct StaffPage<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) tenant: &'a Tenant,
    staff: &'a SignedIn<StaffUser>,
    csrf: CsrfToken,
    section: &'static str,
}

impl<'a> StaffPage<'a> {
    pub(crate) fn new(
        state: &'a AppState,
        tenant: &'a Tenant,
        staff: &'a SignedIn<StaffUser>,
        csrf: CsrfToken,
        section: &'static str,
    ) -> Self {
        Self {
            state,
            tenant,
            staff,
            csrf,
            section,
        }
    }

    pub(crate) fn render(
        &self,
        template: &str,
        page: minijinja::Value,
    ) -> Result<Html<String>, GatewayError> {
        let context = context! {
            firm => firm_value(self.tenant),
            staff => serialized(StaffView::of(&self.staff.account)),
            csrf_token => self.csrf.0.clone(),
            section => self.section,
            ..page
        };
        self.state.templates.page(template, context)
    }

    /// The form page `template` again, with what was typed and why it was refused.
    pub(crate) fn refused(
        &self,
        template: &str,
        page: minijinja::Value,
    ) -> Result<Response, GatewayError> {
        Ok(refused(self.render(template, page)?))
    }
}

/// Messages by form field name.
pub(crate) type FieldErrors = Vec<(&'static str, String)>;

pub(crate) fn form_errors(errors: &[(&'static str, String)]) -> minijinja::Value {
    let by_field: std::collections::BTreeMap<&str, &str> = errors
        .iter()
        .map(|(field, message)| (*field, message.as_str()))
        .collect();
    serialized(by_field)
}
