//! "Forgot your password?" (figures 8 and 9): the same page, status and work whether
//! or not the address has an account. The request is only queued here; the worker
//! decides whether an email goes out, and sends it to the address on the account.

use std::sync::Arc;

use chrono::Utc;
use identity::{EmailAddress, RateLimit, count_events, record_event};
use minijinja::context;
use poem::http::StatusCode;
use poem::web::{CsrfToken, CsrfVerifier, Data, Form, Html};
use poem::{IntoResponse, Response, handler};
use reset_token::record_reset_request;
use tenancy::Tenant;

use crate::app::AppState;
use crate::error::GatewayError;
use crate::forms::check_csrf;
use crate::request_context::ClientAddress;
use crate::templates::firm_value;

fn form_page(
    state: &AppState,
    tenant: &Tenant,
    csrf: &CsrfToken,
    email: &str,
    error: Option<&str>,
) -> Result<Html<String>, GatewayError> {
    let context =
        context! { firm => firm_value(tenant), csrf_token => csrf.0.clone(), email, error };
    Ok(Html(
        state.templates.render("forgot_password.html", context)?,
    ))
}

#[handler]
pub async fn forgot_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    csrf: &CsrfToken,
) -> Result<Html<String>, GatewayError> {
    form_page(&state, &tenant, csrf, "", None)
}

/// The one value of `name` in a form, refusing a field sent twice: two `email`
/// values were how GitLab's CVE-2023-7028 mailed a reset link to an attacker.
fn single<'a>(fields: &'a [(String, String)], name: &str) -> Result<&'a str, GatewayError> {
    let mut values = fields
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str());
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        _ => Err(GatewayError::BadForm),
    }
}

#[handler]
pub async fn request_reset(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    csrf: &CsrfToken,
    verifier: &CsrfVerifier,
    client: Data<&ClientAddress>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, GatewayError> {
    check_csrf(verifier, single(&fields, "csrf_token").unwrap_or_default())?;
    let raw_email = single(&fields, "email")?;
    let now = Utc::now();
    let limits = &state.settings.limits;
    let address = client.0.0.map(|address| address.to_string());
    if let Some(address) = &address {
        let bucket = format!("forgot:address:{address}");
        let limit = RateLimit {
            max: limits.forgot_per_address,
            window: chrono::Duration::minutes(limits.window_minutes),
        };
        if let Err(limited) = count_events(&state.db, &bucket, limit, now).await? {
            return Err(GatewayError::TooManyAttempts {
                retry_after_seconds: limited.retry_after_seconds,
            });
        }
        record_event(&state.db, &bucket, now).await?;
    }
    let Ok(email) = EmailAddress::parse(raw_email) else {
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
    };
    record_reset_request(&state.db, tenant.id, email.as_str(), address, now)
        .await
        .map_err(GatewayError::internal)?;
    state.reset_requests.notify_one();
    tracing::info!(email_domain = email.domain(), "password reset requested");
    let context = context! { firm => firm_value(&tenant), ttl_minutes => state.settings.reset.default_ttl_minutes };
    Ok(Html(state.templates.render("forgot_sent.html", context)?).into_response())
}
