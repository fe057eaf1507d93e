//! The emailed link: `GET /reset/{token}` moves the token into a short-lived cookie and
//! redirects to a clean `/reset`, which shows what the token allows; only the POST
//! from that page uses the token up. Mail scanners open links, so a GET never changes
//! anything.

use std::sync::Arc;

use chrono::Utc;
use minijinja::context;
use poem::http::{StatusCode, header};
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::web::{Data, Path, Redirect};
use poem::{IntoResponse, Response, handler};
use reset_token::{TokenPurpose, TokenRecord, UrlToken};
use serde::Deserialize;
use service::resets::{self, DeadLink, LinkHolder, OpenedLink, PasswordThroughLink, PresentedLink};
use tenancy::{AccountKind, Tenant};

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::CsrfForm;
use crate::http::request_context::ClientAddress;
use crate::http::templates::firm_value;
use crate::state::AppState;

const RESET_COOKIE: &str = "latchkey_reset";

/// Token pages must leave no trace: no referrer to carry the token away, no copy in
/// any cache.
fn token_page(response: impl IntoResponse) -> Response {
    response
        .with_header(header::REFERRER_POLICY, "no-referrer")
        .with_header(header::CACHE_CONTROL, "no-store")
        .into_response()
}

/// The emailed link. Nothing is checked or consumed here; the cookie lasts the browser
/// session until `/reset` has read the token and knows how long it lives.
#[handler]
pub fn open_link(state: Data<&AppState>, jar: &CookieJar, Path(token): Path<String>) -> Response {
    jar.add(token_cookie(&state, token, None));
    token_page(Redirect::see_other("/reset"))
}

fn token_cookie(state: &AppState, token: String, lifetime: Option<std::time::Duration>) -> Cookie {
    let mut cookie = Cookie::new_with_str(RESET_COOKIE, token);
    cookie.set_http_only(true);
    // Lax: the link arrives from a mail client, another site; Strict would drop it.
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(state.is_https());
    cookie.set_path("/reset");
    if let Some(lifetime) = lifetime {
        cookie.set_max_age(lifetime);
    }
    cookie
}

/// The cookie lives exactly as long as the token: an invitation's form left open for
/// hours still works, and nothing outlives the link.
fn keep_token_while_it_lives(state: &AppState, jar: &CookieJar, record: &TokenRecord) {
    let Some(token) = jar.get(RESET_COOKIE) else {
        return;
    };
    let remaining = (record.expires_at - Utc::now())
        .to_std()
        .unwrap_or_default();
    jar.add(token_cookie(
        state,
        token.value_str().to_owned(),
        Some(remaining),
    ));
}

/// The link the browser holds in its cookie, if it holds one that reads as a token.
fn held_token(jar: &CookieJar) -> Held {
    match jar.get(RESET_COOKIE) {
        None => Held::Absent,
        Some(cookie) => UrlToken::parse(cookie.value_str()).map_or(Held::Malformed, Held::Token),
    }
}

enum Held {
    Token(UrlToken),
    Malformed,
    Absent,
}

impl Held {
    fn presented(&self) -> PresentedLink<'_> {
        match self {
            Self::Token(token) => PresentedLink::Token(token),
            Self::Malformed => PresentedLink::Malformed,
            Self::Absent => PresentedLink::Absent,
        }
    }
}

fn forget_token(state: &AppState, jar: &CookieJar) {
    let mut cookie = token_cookie(state, String::new(), None);
    cookie.make_removal();
    jar.add(cookie);
}

/// Why a link cannot be used, as figures 7–9 show it.
fn dead_link(state: &AppState, tenant: &Tenant, why: DeadLink) -> Result<Response, GatewayError> {
    let (status, heading, message) = match why {
        DeadLink::Expired => (
            StatusCode::GONE,
            "This link has expired",
            "For your security, password reset links expire soon after they are sent. Request a new one below.",
        ),
        DeadLink::Used => (
            StatusCode::GONE,
            "This link was already used",
            "A reset link can be used only once. If you still need to reset your password, request a new link.",
        ),
        DeadLink::Invalid => (
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "Check that you opened the whole link from your email, or request a new one.",
        ),
        DeadLink::NotPresented => (
            StatusCode::BAD_REQUEST,
            "Open the link from your email again",
            "This browser no longer holds your reset link. Open the link in your email again to continue; nothing has been changed.",
        ),
        DeadLink::Superseded => (
            StatusCode::CONFLICT,
            "Another reset link was opened",
            "This page belongs to a link you opened earlier, and another one was opened since in this browser. To be sure the right account changes, open the link from your email again; nothing has been changed.",
        ),
    };
    let context = context! { firm => firm_value(tenant), heading, message };
    let page = state.templates.page("portal/reset_notice.html", context)?;
    Ok(token_page(page.with_status(status)))
}

fn form_page(
    state: &AppState,
    tenant: &Tenant,
    csrf: CsrfToken,
    record: &TokenRecord,
    holder: &LinkHolder,
    errors: &[String],
) -> Result<Response, GatewayError> {
    let invitation = record.purpose == TokenPurpose::Invite;
    let context = context! {
        firm => firm_value(tenant),
        csrf_token => csrf.0.clone(),
        link => record.id.to_string(),
        account_email => holder.email.as_str(),
        invitation,
        min_length => state.services.policy(tenant).password.min_length,
        errors => errors.to_vec(),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = state.templates.page("portal/reset_form.html", context)?;
    Ok(token_page(page.with_status(status)))
}

/// The clean page the link redirects to: the password form, or the
/// temporary-password mode's button (a button, not an action on GET: mail scanners
/// open links).
#[handler]
pub async fn reset_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    client: Data<&ClientAddress>,
) -> Result<Response, GatewayError> {
    let held = held_token(jar);
    let token = match &held {
        Held::Token(token) => Some(token),
        Held::Malformed | Held::Absent => None,
    };
    let (record, holder) =
        match resets::open_link(&state.services, &tenant, token, client.0.0).await? {
            OpenedLink::Live { record, holder } => (record, holder),
            OpenedLink::Dead(why) => return dead_link(&state, &tenant, why),
        };
    keep_token_while_it_lives(&state, jar, &record);
    if record.purpose != TokenPurpose::TemporaryPassword {
        return form_page(&state, &tenant, csrf, &record, &holder, &[]);
    }
    let context = context! {
        firm => firm_value(&tenant),
        csrf_token => csrf.0.clone(),
        link => record.id.to_string(),
        account_email => holder.email.as_str(),
    };
    let page = state
        .templates
        .page("portal/reset_temporary.html", context)?;
    Ok(token_page(page))
}

#[derive(Debug, Deserialize)]
pub struct NewPasswordForm {
    new_password: String,
    confirm_password: String,
    /// The id of the link the form was shown for: one cookie per host holds the
    /// newest link opened, and an older tab must not change its account.
    #[serde(default)]
    link: String,
}

/// Uses the link: a new password, every session and every other token of the
/// account ended, and the person sent to sign in (never signed in by the link).
#[handler]
pub async fn set_password(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    client: Data<&ClientAddress>,
    CsrfForm(form): CsrfForm<NewPasswordForm>,
) -> Result<Response, GatewayError> {
    let held = held_token(jar);
    let outcome = resets::set_password_through_link(
        &state.services,
        &tenant,
        held.presented(),
        &form.link,
        &form.new_password,
        &form.confirm_password,
        client.0.0,
    )
    .await?;
    let kind = match outcome {
        PasswordThroughLink::Changed(kind) => kind,
        PasswordThroughLink::Refused {
            record,
            holder,
            errors,
        } => return form_page(&state, &tenant, csrf, &record, &holder, &errors),
        PasswordThroughLink::Dead(why) => return dead_link(&state, &tenant, why),
    };
    forget_token(&state, jar);
    let login = match kind {
        AccountKind::Contact => "/login?notice=password-changed",
        AccountKind::Staff => "/staff/login?notice=password-changed",
    };
    Ok(token_page(Redirect::see_other(login)))
}

/// The temporary-password button's form: which link it was shown for.
#[derive(Debug, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    link: String,
}

/// The temporary-password mode's button (004 step 1.4): a generated password is
/// emailed, to be changed at the next sign-in.
#[handler]
pub async fn send_temporary_password(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    client: Data<&ClientAddress>,
    CsrfForm(form): CsrfForm<LinkForm>,
) -> Result<Response, GatewayError> {
    let held = held_token(jar);
    let sent = resets::send_temporary_password(
        &state.services,
        &tenant,
        held.presented(),
        &form.link,
        client.0.0,
    )
    .await?;
    if let Err(why) = sent {
        return dead_link(&state, &tenant, why);
    }
    forget_token(&state, jar);
    let context = context! { firm => firm_value(&tenant) };
    let page = state
        .templates
        .page("portal/reset_temporary_sent.html", context)?;
    Ok(token_page(page))
}
