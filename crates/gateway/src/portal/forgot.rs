//! "Forgot your password?" (figures 8 and 9): the same page, status and work whether
//! or not the address has an account. The request is only queued here; the worker
//! decides whether an email goes out, and sends it to the address on the account.

use std::sync::Arc;

use minijinja::context;
use poem::web::{Data, Html};
use poem::{IntoResponse, Response, handler};
use service::requests;
use tenancy::Tenant;

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::CsrfForm;
use crate::http::forms::{EmailOnlyPage, single};
use crate::http::request_context::ClientAddress;
use crate::http::templates::firm_value;
use crate::state::AppState;

fn form_page(tenant: &Tenant) -> EmailOnlyPage<'_> {
    EmailOnlyPage {
        template: "portal/forgot_password.html",
        firm: Some(tenant),
    }
}

#[handler]
pub async fn forgot_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    form_page(&tenant).empty(&state.templates, csrf)
}

#[handler]
pub async fn request_reset(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    csrf: CsrfToken,
    client: Data<&ClientAddress>,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, GatewayError> {
    let raw_email = single(&fields, "email")?;
    let requested =
        requests::request_reset(&state.services, &tenant, raw_email, client.0.0).await?;
    if requested.is_none() {
        return form_page(&tenant).refused(&state.templates, csrf, raw_email);
    }
    // The firm's own lifetime: the one its link will carry.
    let context = context! {
        firm => firm_value(&tenant),
        ttl_minutes => state.services.policy(&tenant).reset_minutes,
    };
    Ok(state
        .templates
        .page("portal/forgot_sent.html", context)?
        .into_response())
}
