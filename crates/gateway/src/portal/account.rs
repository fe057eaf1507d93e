//! The contact's side of the portal: sign-in, the portal home, sign-out, and changing
//! one's password.

use std::sync::Arc;

use identity::{Contact, find_client};
use minijinja::context;
use poem::web::cookie::CookieJar;
use poem::web::{Data, Html, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use service::accounts::{self, OwnPasswordChange};
use tenancy::{AccountKind, Tenant};

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::{ContactSession, CsrfForm};
use crate::http::forms::refused;
use crate::http::request_context::ClientAddress;
use crate::http::session::end_session;
use crate::http::session::{
    SignInForm, current_contact, refused_sign_in, set_session_cookie, sign_in,
};
use crate::http::templates::firm_value;
use crate::state::AppState;

/// The portal home once signed in; the sign-in page otherwise.
#[handler]
pub async fn home(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Result<Response, GatewayError> {
    let Some(contact) = current_contact(&state, &tenant, jar).await? else {
        return Ok(Redirect::see_other("/login").into_response());
    };
    if contact.account.must_change_password {
        return Ok(Redirect::see_other("/account/password").into_response());
    }
    let client = find_client(&state.services.db, tenant.id, contact.account.client_id).await?;
    let context = context! {
        firm => firm_value(&tenant),
        csrf_token => csrf.0.clone(),
        contact_name => contact.account.name,
        client_name => client.map(|c| c.name),
        notice => notice_text(query.notice.as_deref()),
    };
    Ok(state
        .templates
        .page("portal/home.html", context)?
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    notice: Option<String>,
}

/// Notices other pages send people here with; only known ones are shown.
fn notice_text(notice: Option<&str>) -> Option<&'static str> {
    match notice? {
        "signed-out" => Some("You have signed out."),
        "password-changed" => Some("Your password was changed. Sign in with your new password."),
        "password-updated" => Some("Your password was changed."),
        _ => None,
    }
}

#[handler]
pub async fn login_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Result<Response, GatewayError> {
    if current_contact(&state, &tenant, jar).await?.is_some() {
        return Ok(Redirect::see_other("/").into_response());
    }
    let context = context! {
        firm => firm_value(&tenant),
        csrf_token => csrf.0.clone(),
        email => "",
        notice => notice_text(query.notice.as_deref()),
    };
    Ok(state
        .templates
        .page("portal/login.html", context)?
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
    let signed_in = sign_in(
        &state,
        &tenant,
        jar,
        AccountKind::Contact,
        &form,
        client.0.0,
    )
    .await?;
    let Some(must_change_password) = signed_in else {
        return refused_sign_in(&state, &tenant, csrf, "portal/login.html", &form);
    };
    let next = if must_change_password {
        "/account/password"
    } else {
        "/"
    };
    Ok(Redirect::see_other(next).into_response())
}

#[handler]
pub async fn logout(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    _: CsrfForm,
) -> Result<Redirect, GatewayError> {
    end_session(&state, &tenant, jar, AccountKind::Contact).await?;
    Ok(Redirect::see_other("/login?notice=signed-out"))
}

#[handler]
pub async fn password_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    ContactSession(contact): ContactSession,
    csrf: CsrfToken,
) -> Result<Html<String>, GatewayError> {
    password_form(&state, &tenant, csrf, &contact.account, &[])
}

fn password_form(
    state: &AppState,
    tenant: &Tenant,
    csrf: CsrfToken,
    contact: &Contact,
    errors: &[String],
) -> Result<Html<String>, GatewayError> {
    let context = context! {
        firm => firm_value(tenant),
        csrf_token => csrf.0,
        must_change => contact.must_change_password,
        min_length => state.services.policy(tenant).password.min_length,
        errors => errors.to_vec(),
    };
    state
        .templates
        .page("portal/account_password.html", context)
}

#[derive(Debug, Deserialize)]
pub struct ChangePasswordForm {
    password: String,
    new_password: String,
    confirm_password: String,
}

/// Changes the password with the current one; every other session of the contact
/// ends, so a thief's session does not outlive the change.
#[handler]
pub async fn change_password(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    ContactSession(contact): ContactSession,
    csrf: CsrfToken,
    client: Data<&ClientAddress>,
    CsrfForm(form): CsrfForm<ChangePasswordForm>,
) -> Result<Response, GatewayError> {
    let change = accounts::change_contact_password(
        &state.services,
        &tenant,
        &contact.account,
        &form.password,
        &form.new_password,
        &form.confirm_password,
        client.0.0,
    )
    .await?;
    let session = match change {
        OwnPasswordChange::Changed(session) => session,
        OwnPasswordChange::Refused(errors) => {
            let page = password_form(&state, &tenant, csrf, &contact.account, &errors)?;
            return Ok(refused(page));
        }
    };
    set_session_cookie(jar, AccountKind::Contact, &session, state.is_https());
    Ok(Redirect::see_other("/?notice=password-updated").into_response())
}
