//! Who is signed in: session cookies, and the look-ups that turn them into accounts.
//!
//! Cookies are host-only (never `Domain=`), so one firm's session is never sent to
//! another firm's subdomain; and a session is looked up with the firm of the request,
//! so one presented to the wrong firm simply does not exist there.

use identity::{
    Contact, Session, SessionToken, StaffRole, StaffStatus, StaffUser, authenticate_session,
    create_session, find_contact, find_staff_user, revoke_session,
};
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::{IntoResponse, Response};
use service::accounts::{ContactUse, usable_contact};
use service::sign_in::{SignInOutcome, attempt_sign_in};
use tenancy::{AccountKind, AccountRef, Tenant};

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::templates::firm_value;
use crate::state::AppState;

/// A signed-in account and the session that proves it.
#[derive(Debug, Clone)]
pub struct SignedIn<A> {
    pub account: A,
    pub session: Session,
    pub token: SessionToken,
}

/// The cookie that carries a session of `kind`. Over https it takes the `__Host-`
/// prefix, which browsers only accept Secure, host-only and for the whole site.
pub fn cookie_name(kind: AccountKind, https: bool) -> String {
    let base = match kind {
        AccountKind::Staff => "latchkey_staff",
        AccountKind::Contact => "latchkey_session",
    };
    if https {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

fn session_cookie(kind: AccountKind, value: &str, https: bool) -> Cookie {
    let mut cookie = Cookie::new_with_str(cookie_name(kind, https), value);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(https);
    cookie.set_path("/");
    cookie
}

/// Puts a new session's token in its cookie.
pub fn set_session_cookie(jar: &CookieJar, kind: AccountKind, token: &SessionToken, https: bool) {
    jar.add(session_cookie(kind, token.expose(), https));
}

pub fn clear_session_cookie(jar: &CookieJar, kind: AccountKind, https: bool) {
    let mut cookie = session_cookie(kind, "", https);
    cookie.make_removal();
    jar.add(cookie);
}

/// The token in the request's cookie of `kind`, if it has the right shape.
pub fn session_token(jar: &CookieJar, kind: AccountKind, https: bool) -> Option<SessionToken> {
    jar.get(&cookie_name(kind, https))
        .and_then(|cookie| SessionToken::from_cookie(cookie.value_str()))
}

async fn live_session(
    state: &AppState,
    tenant: &Tenant,
    jar: &CookieJar,
    kind: AccountKind,
) -> Result<Option<(Session, SessionToken)>, GatewayError> {
    let Some(token) = session_token(jar, kind, state.is_https()) else {
        return Ok(None);
    };
    let now = chrono::Utc::now();
    let session = authenticate_session(
        &state.services.db,
        tenant.id,
        kind,
        &token,
        state.services.session_lifetime,
        now,
    )
    .await?;
    Ok(session.map(|session| (session, token)))
}

/// The signed-in, active staff user of this firm, or `None`.
pub async fn current_staff(
    state: &AppState,
    tenant: &Tenant,
    jar: &CookieJar,
) -> Result<Option<SignedIn<StaffUser>>, GatewayError> {
    let Some((session, token)) = live_session(state, tenant, jar, AccountKind::Staff).await? else {
        return Ok(None);
    };
    let Some(id) = session.account.staff() else {
        return Ok(None);
    };
    let account = find_staff_user(&state.services.db, tenant.id, id).await?;
    Ok(account
        .filter(|user| user.status == StaffStatus::Active)
        .map(|account| SignedIn {
            account,
            session,
            token,
        }))
}

/// Like [`current_staff`], but signed-out visitors go to the staff sign-in page.
pub async fn require_staff(
    state: &AppState,
    tenant: &Tenant,
    jar: &CookieJar,
) -> Result<SignedIn<StaffUser>, GatewayError> {
    current_staff(state, tenant, jar)
        .await?
        .ok_or(GatewayError::SignInRequired(AccountKind::Staff))
}

/// A signed-in administrator of the firm.
pub async fn require_admin(
    state: &AppState,
    tenant: &Tenant,
    jar: &CookieJar,
) -> Result<SignedIn<StaffUser>, GatewayError> {
    let staff = require_staff(state, tenant, jar).await?;
    if staff.account.role != StaffRole::Admin {
        return Err(GatewayError::AdminOnly);
    }
    Ok(staff)
}

/// The signed-in, active contact of this firm, or `None`.
pub async fn current_contact(
    state: &AppState,
    tenant: &Tenant,
    jar: &CookieJar,
) -> Result<Option<SignedIn<Contact>>, GatewayError> {
    let Some((session, token)) = live_session(state, tenant, jar, AccountKind::Contact).await?
    else {
        return Ok(None);
    };
    let Some(id) = session.account.contact() else {
        return Ok(None);
    };
    let account = find_contact(&state.services.db, tenant.id, id).await?;
    let account = usable_contact(&state.services, tenant, account, ContactUse::SignIn).await?;
    Ok(account.map(|account| SignedIn {
        account,
        session,
        token,
    }))
}

pub async fn require_contact(
    state: &AppState,
    tenant: &Tenant,
    jar: &CookieJar,
) -> Result<SignedIn<Contact>, GatewayError> {
    current_contact(state, tenant, jar)
        .await?
        .ok_or(GatewayError::SignInRequired(AccountKind::Contact))
}

/// Signs `account` in: any session the browser held before is ended and a new one
/// is made, so an id planted before sign-in is never promoted.
pub async fn start_session(
    state: &AppState,
    tenant: &Tenant,
    jar: &CookieJar,
    account: AccountRef,
) -> Result<(), GatewayError> {
    let kind = account.kind();
    if let Some(old) = session_token(jar, kind, state.is_https()) {
        revoke_session(&state.services.db, tenant.id, &old).await?;
    }
    let now = chrono::Utc::now();
    let (token, _) = create_session(
        &state.services.db,
        tenant.id,
        account,
        state.services.session_lifetime,
        now,
    )
    .await?;
    set_session_cookie(jar, kind, &token, state.is_https());
    Ok(())
}

/// Signs out: the session ends in the database and its cookie is removed.
pub async fn end_session(
    state: &AppState,
    tenant: &Tenant,
    jar: &CookieJar,
    kind: AccountKind,
) -> Result<(), GatewayError> {
    if let Some(token) = session_token(jar, kind, state.is_https()) {
        revoke_session(&state.services.db, tenant.id, &token).await?;
    }
    clear_session_cookie(jar, kind, state.is_https());
    Ok(())
}

/// The sign-in form of staff and contacts alike.
#[derive(Debug, serde::Deserialize)]
pub struct SignInForm {
    pub email: String,
    pub password: String,
}

/// Checks the form's password for an account of `kind` and, when it is right, starts
/// a new session (one from before sign-in is never kept). `Some(must_change_password)`
/// when signed in; `None` when refused, for whatever reason, so the page says nothing
/// about which accounts exist.
pub async fn sign_in(
    state: &AppState,
    tenant: &Tenant,
    jar: &CookieJar,
    kind: AccountKind,
    form: &SignInForm,
    from: Option<std::net::IpAddr>,
) -> Result<Option<bool>, GatewayError> {
    let outcome = attempt_sign_in(
        &state.services,
        tenant,
        kind,
        &form.email,
        &form.password,
        from,
    )
    .await?;
    let SignInOutcome::SignedIn {
        account,
        must_change_password,
    } = outcome
    else {
        return Ok(None);
    };
    start_session(state, tenant, jar, account).await?;
    Ok(Some(must_change_password))
}

/// The sign-in page `template` again, with the address typed and the one error every
/// refusal shows.
pub fn refused_sign_in(
    state: &AppState,
    tenant: &Tenant,
    csrf: CsrfToken,
    template: &str,
    form: &SignInForm,
) -> Result<Response, GatewayError> {
    let context = minijinja::context! {
        firm => firm_value(tenant),
        csrf_token => csrf.0,
        email => form.email.trim(),
        error => "Email or password is incorrect",
    };
    Ok(state.templates.page(template, context)?.into_response())
}
