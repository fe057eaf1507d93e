//! The firm's staff: the team page and invitations.

use std::sync::Arc;

use identity::{EmailAddress, IdentityError, NewStaffUser, StaffRole, list_staff_users};
use minijinja::context;
use poem::web::{Data, Html, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::{Deserialize, Serialize};
use service::ServiceError;
use service::accounts::{self, Inviter};
use tenancy::Tenant;

use super::views::{FieldErrors, StaffPage, form_errors};
use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::{AdminSession, CsrfForm};
use crate::http::forms::refused;
use crate::http::request_context::ClientAddress;
use crate::http::templates::serialized;
use crate::state::AppState;

#[derive(Debug, Serialize)]
struct TeamMemberView {
    name: String,
    email: String,
    role: &'static str,
    status: &'static str,
}

async fn team_page(
    page: &StaffPage<'_>,
    extra: minijinja::Value,
) -> Result<Html<String>, GatewayError> {
    let members: Vec<TeamMemberView> = list_staff_users(&page.state.services.db, page.tenant.id)
        .await?
        .iter()
        .map(|user| TeamMemberView {
            name: user.name.clone(),
            email: user.email.to_string(),
            role: user.role.as_str(),
            status: user.status.as_str(),
        })
        .collect();
    page.render(
        "staff/team.html",
        context! { members => serialized(members), ..extra },
    )
}

#[handler]
pub async fn team(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    let page = StaffPage::new(&state, &tenant, &staff, csrf, "team");
    team_page(&page, context! {}).await
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    name: String,
    email: String,
    role: String,
}

/// Invites a staff member: the account exists, invited, until a password is set.
#[handler]
pub async fn invite(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    client: Data<&ClientAddress>,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<Response, GatewayError> {
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
        let inviter = Inviter::staff(staff.account.id, client.0.0);
        match accounts::invite_staff(&state.services, &tenant, new, inviter).await {
            Ok(_) => return Ok(Redirect::see_other("/staff/team").into_response()),
            Err(ServiceError::Identity(IdentityError::InvalidName)) => {
                errors.push(("name", "Enter a name (up to 200 characters).".to_owned()))
            }
            Err(ServiceError::Identity(IdentityError::EmailTaken)) => errors.push((
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
    let page = StaffPage::new(&state, &tenant, &staff, csrf, "team");
    Ok(refused(team_page(&page, extra).await?))
}
