//! The contact's side of the portal: sign-in, the portal home, sign-out, and changing
//! one's password.

use std::sync::Arc;

use chrono::Utc;
use identity::{
    AccountKind, Actor, AuditAction, NewAuditEvent, Verification, create_session, find_client,
    record_audit, revoke_all_sessions, set_contact_password,
};
use minijinja::context;
use poem::web::cookie::CookieJar;
use poem::web::{Data, Html, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use sea_orm::TransactionTrait;
use serde::Deserialize;
use tenancy::Tenant;

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::{ContactSession, CsrfForm};
use crate::http::request_context::ClientAddress;
use crate::http::session::{current_contact, set_session_cookie};
use crate::http::session::{end_session, start_session};
use crate::http::templates::firm_value;
use crate::state::AppState;
use service::attempts::Attempt;
use service::sign_in::{SignInOutcome, attempt_sign_in};

fn render(
    state: &AppState,
    name: &str,
    context: minijinja::Value,
) -> Result<Html<String>, GatewayError> {
    Ok(Html(state.templates.render(name, context)?))
}

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
    Ok(render(&state, "portal/home.html", context)?.into_response())
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
    Ok(render(&state, "portal/login.html", context)?.into_response())
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
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
    let outcome = attempt_sign_in(
        &state.services,
        &tenant,
        AccountKind::Contact,
        &form.email,
        &form.password,
        client.0.0,
    )
    .await?;
    let SignInOutcome::SignedIn {
        account_id,
        must_change_password,
    } = outcome
    else {
        let context = context! {
            firm => firm_value(&tenant),
            csrf_token => csrf.0.clone(),
            email => form.email.trim(),
            error => "Email or password is incorrect",
        };
        return Ok(render(&state, "portal/login.html", context)?.into_response());
    };
    start_session(&state, &tenant, jar, AccountKind::Contact, account_id).await?;
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
    let context = context! {
        firm => firm_value(&tenant),
        csrf_token => csrf.0.clone(),
        must_change => contact.account.must_change_password,
        min_length => state.services.policy(&tenant).password.min_length,
    };
    render(&state, "portal/account_password.html", context)
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
    // The current password is a secret a stolen session could guess at: counted like
    // a sign-in, per client address and per account, before the hash.
    let limits = &state.settings.limits;
    let (attempt, _) = Attempt::begin(
        &state.services,
        vec![
            (
                format!("account-password:address:{}", client.limit_key()),
                limits.sign_in_per_address,
            ),
            (
                format!(
                    "account-password:account:{}:{}",
                    tenant.id, contact.account.id
                ),
                limits.sign_in_per_email,
            ),
        ],
    )
    .await?;
    let mut errors: Vec<String> = Vec::new();
    let current_ok = matches!(
        state
            .services
            .hasher
            .verify(&form.password, contact.account.password_hash.as_deref())
            .await?,
        Verification::Valid { .. }
    );
    if current_ok {
        attempt.refund(&state.services).await?;
    } else {
        errors.push("Your current password is not correct.".to_owned());
    }
    errors.extend(
        state
            .services
            .policy(&tenant)
            .password
            .check(
                &form.new_password,
                &form.confirm_password,
                &contact.account.email,
            )
            .iter()
            .map(ToString::to_string),
    );
    if !errors.is_empty() {
        let context = context! {
            firm => firm_value(&tenant),
            csrf_token => csrf.0.clone(),
            must_change => contact.account.must_change_password,
            min_length => state.services.policy(&tenant).password.min_length,
            errors,
        };
        return Ok(render(&state, "portal/account_password.html", context)?
            .with_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY)
            .into_response());
    }
    let hash = state.services.hasher.hash(&form.new_password).await?;
    let now = Utc::now();
    let id = contact.account.id;
    // The password, the trail and the end of every other session and every link:
    // all or nothing.
    let txn = state
        .services
        .db
        .begin()
        .await
        .map_err(GatewayError::internal)?;
    set_contact_password(&txn, tenant.id, id, hash, false, now).await?;
    let event = NewAuditEvent {
        action: AuditAction::PasswordChanged,
        actor: Actor::Contact(id),
        subject_kind: AccountKind::Contact,
        subject_id: id,
        client_address: client.0.0.map(|address| address.to_string()),
        detail: None,
    };
    record_audit(&txn, tenant.id, event, now).await?;
    // Every session ends, this one too: the person carries on in a new one, so a
    // session id seen before the change (a fixation, a shared machine) is worthless.
    revoke_all_sessions(&txn, tenant.id, AccountKind::Contact, id, None).await?;
    let (session, _) = create_session(
        &txn,
        tenant.id,
        AccountKind::Contact,
        id,
        state.services.session_lifetime,
        now,
    )
    .await?;
    reset_token::revoke_tokens(&txn, tenant.id, AccountKind::Contact.as_str(), id, None)
        .await
        .map_err(GatewayError::internal)?;
    let queued = service::emails::queue_password_changed(
        &txn,
        &state.services,
        &tenant,
        &contact.account.name,
        &contact.account.email,
        Some(&contact.account.locale),
    )
    .await?;
    txn.commit().await.map_err(GatewayError::internal)?;
    set_session_cookie(jar, AccountKind::Contact, &session, state.is_https());
    state.services.waker.notify(&queued);
    tracing::info!("contact changed their password");
    Ok(Redirect::see_other("/?notice=password-updated").into_response())
}
