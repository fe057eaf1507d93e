//! "Forgot your password?" (figures 8 and 9): the same page, status and work whether
//! or not the address has an account. The request is only queued here; the worker
//! decides whether an email goes out, and sends it to the address on the account.

use std::sync::Arc;

use minijinja::context;
use poem::http::StatusCode;
use poem::web::{Data, Html};
use poem::{IntoResponse, Response, handler};
use service::requests;
use tenancy::Tenant;

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::CsrfForm;
use crate::http::forms::single;
use crate::http::request_context::ClientAddress;
use crate::http::templates::firm_value;
use crate::state::AppState;

fn form_page(
    state: &AppState,
    tenant: &Tenant,
    csrf: CsrfToken,
    email: &str,
    error: Option<&str>,
) -> Result<Html<String>, GatewayError> {
    let context =
        context! { firm => firm_value(tenant), csrf_token => csrf.0.clone(), email, error };
    Ok(Html(
        state
            .templates
            .render("portal/forgot_password.html", context)?,
    ))
}

#[handler]
pub async fn forgot_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    form_page(&state, &tenant, csrf, "", None)
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
        let page = form_page(
            &state,
            &tenant,
            csrf,
            raw_email.trim(),
            Some("Enter an email address, like name@example.com."),
        )?;
        return Ok(page
            .with_status(StatusCode::UNPROCESSABLE_ENTITY)
            .into_response());
    }
    // The firm's own lifetime: the one its link will carry.
    let context = context! {
        firm => firm_value(&tenant),
        ttl_minutes => state.services.policy(&tenant).reset_minutes,
    };
    Ok(Html(state.templates.render("portal/forgot_sent.html", context)?).into_response())
}
