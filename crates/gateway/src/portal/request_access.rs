//! "Request your credential": the public form on a firm's host.

use std::sync::Arc;

use identity::{EmailAddress, NewAccessRequest};
use minijinja::context;
use poem::web::{Data, Html};
use poem::{IntoResponse, Response, handler};
use serde::{Deserialize, Serialize};
use service::requests;
use tenancy::Tenant;

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::CsrfForm;
use crate::http::forms::refused;
use crate::http::request_context::ClientAddress;
use crate::http::templates::{firm_value, serialized};
use crate::state::AppState;

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
    state.templates.page("portal/request_access.html", context)
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
    client: Data<&ClientAddress>,
    CsrfForm(form): CsrfForm<AccessForm>,
) -> Result<Response, GatewayError> {
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
    requests::request_access(&state.services, &tenant, checked.as_ref().ok(), client.0.0).await?;
    if let Err((field, message)) = checked {
        let page = form_page(&state, &tenant, csrf, &form, Some((field, message)))?;
        return Ok(refused(page));
    }
    let context = context! { firm => firm_value(&tenant) };
    Ok(state
        .templates
        .page("portal/request_access_sent.html", context)?
        .into_response())
}
