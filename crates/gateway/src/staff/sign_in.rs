//! Staff sign-in and sign-out at `/staff/login`, and `/staff` itself.

use std::sync::Arc;

use minijinja::context;
use poem::web::cookie::CookieJar;
use poem::web::{Data, Redirect};
use poem::{IntoResponse, Response, handler};
use tenancy::{AccountKind, Tenant};

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::CsrfForm;
use crate::http::request_context::ClientAddress;
use crate::http::session::current_staff;
use crate::http::session::{SignInForm, end_session, refused_sign_in, sign_in};
use crate::http::templates::firm_value;
use crate::state::AppState;

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
    let context =
        context! { firm => firm_value(&tenant), csrf_token => csrf.0.clone(), email => "" };
    Ok(state
        .templates
        .page("staff/login.html", context)?
        .into_response())
}

#[handler]
pub async fn login(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    client: Data<&ClientAddress>,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> Result<Response, GatewayError> {
    let signed_in = sign_in(&state, &tenant, jar, AccountKind::Staff, &form, client.0.0).await?;
    if signed_in.is_none() {
        return refused_sign_in(&state, &tenant, csrf, "staff/login.html", &form);
    }
    tracing::info!("staff signed in");
    Ok(Redirect::see_other("/staff/workspaces").into_response())
}

#[handler]
pub async fn logout(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    _: CsrfForm,
) -> Result<Redirect, GatewayError> {
    end_session(&state, &tenant, jar, AccountKind::Staff).await?;
    Ok(Redirect::see_other("/staff/login"))
}

#[handler]
pub fn staff_home() -> Redirect {
    Redirect::see_other("/staff/workspaces")
}
