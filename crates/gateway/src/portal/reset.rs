//! The emailed link: `GET /reset/{token}` moves the token into a short-lived cookie and
//! redirects to a clean `/reset`, which shows what the token allows; only the POST
//! from that page uses the token up. Mail scanners open links, so a GET never changes
//! anything.

use std::sync::Arc;

use chrono::Utc;
use identity::{
    AccountKind, Actor, AuditAction, ContactStatus, EmailAddress, NewAuditEvent, StaffStatus,
    find_contact, find_staff_user, record_audit, revoke_all_sessions, set_contact_password,
    set_staff_password,
};
use minijinja::context;
use poem::http::{StatusCode, header};
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::web::{Data, Html, Path, Redirect};
use poem::{IntoResponse, Response, handler};
use reset_token::{
    Opening, RedeemError, TokenCheck, TokenPurpose, TokenRecord, UrlToken, check_any_token,
    note_opening, redeem_token, revoke_tokens,
};
use sea_orm::TransactionTrait;
use serde::Deserialize;
use tenancy::Tenant;
use uuid::Uuid;

use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::CsrfForm;
use crate::http::request_context::ClientAddress;
use crate::http::session::with_active_client;
use crate::http::templates::firm_value;
use crate::state::AppState;
use service::attempts::Attempt;
use service::emails::queue_password_changed;

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

fn presented_token(jar: &CookieJar) -> Option<UrlToken> {
    jar.get(RESET_COOKIE)
        .and_then(|cookie| UrlToken::parse(cookie.value_str()))
}

fn forget_token(state: &AppState, jar: &CookieJar) {
    let mut cookie = Cookie::new_with_str(RESET_COOKIE, "");
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(state.is_https());
    cookie.set_path("/reset");
    cookie.make_removal();
    jar.add(cookie);
}

async fn check(
    state: &AppState,
    tenant: &Tenant,
    jar: &CookieJar,
) -> Result<TokenCheck, GatewayError> {
    let Some(token) = presented_token(jar) else {
        return Ok(TokenCheck::Invalid);
    };
    check_presented(state, tenant, &token).await
}

async fn check_presented(
    state: &AppState,
    tenant: &Tenant,
    token: &UrlToken,
) -> Result<TokenCheck, GatewayError> {
    check_any_token(
        &state.services.db,
        &state.services.token_keys,
        tenant.id,
        token,
        Utc::now(),
    )
    .await
    .map_err(GatewayError::internal)
}

/// Why a link cannot be used, as figures 7–9 show it.
#[derive(Debug, Clone, Copy)]
enum Dead {
    Expired,
    Used,
    Invalid,
    /// The browser no longer holds the link (its cookie is gone: another browser, a
    /// cleared cookie), so only the email can tell which account this is.
    Reopen,
    /// The browser has opened another link since this form was shown: posting it
    /// would change the other link's account.
    Superseded,
}

fn dead_link(state: &AppState, tenant: &Tenant, why: Dead) -> Result<Response, GatewayError> {
    let (status, heading, message) = match why {
        Dead::Expired => (
            StatusCode::GONE,
            "This link has expired",
            "For your security, password reset links expire soon after they are sent. Request a new one below.",
        ),
        Dead::Used => (
            StatusCode::GONE,
            "This link was already used",
            "A reset link can be used only once. If you still need to reset your password, request a new link.",
        ),
        Dead::Invalid => (
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "Check that you opened the whole link from your email, or request a new one.",
        ),
        Dead::Reopen => (
            StatusCode::BAD_REQUEST,
            "Open the link from your email again",
            "This browser no longer holds your reset link. Open the link in your email again to continue; nothing has been changed.",
        ),
        Dead::Superseded => (
            StatusCode::CONFLICT,
            "Another reset link was opened",
            "This page belongs to a link you opened earlier, and another one was opened since in this browser. To be sure the right account changes, open the link from your email again; nothing has been changed.",
        ),
    };
    let context = context! { firm => firm_value(tenant), heading, message };
    Ok(token_page(
        Html(
            state
                .templates
                .render("portal/reset_notice.html", context)?,
        )
        .with_status(status),
    ))
}

/// The person behind a token, whatever their kind.
struct Holder {
    kind: AccountKind,
    id: Uuid,
    name: String,
    email: EmailAddress,
    locale: Option<String>,
}

async fn holder(
    state: &AppState,
    tenant: &Tenant,
    record: &TokenRecord,
) -> Result<Option<Holder>, GatewayError> {
    Ok(match record.account_kind.as_str() {
        "contact" => {
            let contact = find_contact(&state.services.db, tenant.id, record.account_id)
                .await?
                .filter(|contact| contact.status != ContactStatus::Disabled);
            with_active_client(state, tenant, contact)
                .await?
                .map(|contact| Holder {
                    kind: AccountKind::Contact,
                    id: contact.id,
                    name: contact.name,
                    email: contact.email,
                    locale: Some(contact.locale),
                })
        }
        "staff" => find_staff_user(&state.services.db, tenant.id, record.account_id)
            .await?
            .filter(|user| user.status != StaffStatus::Disabled)
            .map(|user| Holder {
                kind: AccountKind::Staff,
                id: user.id,
                name: user.name,
                email: user.email,
                locale: None,
            }),
        _ => None,
    })
}

fn form_page(
    state: &AppState,
    tenant: &Tenant,
    csrf: CsrfToken,
    record: &TokenRecord,
    holder: &Holder,
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
    Ok(token_page(
        Html(state.templates.render("portal/reset_form.html", context)?).with_status(status),
    ))
}

/// Notes in the account's trail that its link was opened, and in which state: once
/// per token and state, so reloading the page (or a scanner's visits) writes nothing.
async fn audit_link(
    state: &AppState,
    tenant: &Tenant,
    record: &TokenRecord,
    opening: Opening,
    client: ClientAddress,
) -> Result<(), GatewayError> {
    if record.last_opening == Some(opening) {
        return Ok(());
    }
    let action = match opening {
        Opening::Valid => AuditAction::LinkOpened,
        Opening::Expired => AuditAction::LinkExpired,
        Opening::Used => AuditAction::LinkReused,
    };
    let subject_kind = if record.account_kind == "staff" {
        AccountKind::Staff
    } else {
        AccountKind::Contact
    };
    let event = NewAuditEvent {
        action,
        actor: Actor::Anonymous,
        subject_kind,
        subject_id: record.account_id,
        client_address: client.0.map(|address| address.to_string()),
        detail: Some(format!("token {}", record.id)),
    };
    let txn = state
        .services
        .db
        .begin()
        .await
        .map_err(GatewayError::internal)?;
    // Of two pages opened at once, one writes the entry.
    if note_opening(&txn, record, opening)
        .await
        .map_err(GatewayError::internal)?
    {
        record_audit(&txn, tenant.id, event, Utc::now()).await?;
    }
    txn.commit().await.map_err(GatewayError::internal)?;
    Ok(())
}

/// The clean page the link redirects to.
#[handler]
pub async fn reset_page(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    csrf: CsrfToken,
    client: Data<&ClientAddress>,
) -> Result<Response, GatewayError> {
    match check(&state, &tenant, jar).await? {
        TokenCheck::Valid(record) if record.purpose != TokenPurpose::TemporaryPassword => {
            let Some(holder) = holder(&state, &tenant, &record).await? else {
                return dead_link(&state, &tenant, Dead::Invalid);
            };
            audit_link(&state, &tenant, &record, Opening::Valid, **client).await?;
            keep_token_while_it_lives(&state, jar, &record);
            form_page(&state, &tenant, csrf, &record, &holder, &[])
        }
        TokenCheck::Valid(record) => {
            let Some(holder) = holder(&state, &tenant, &record).await? else {
                return dead_link(&state, &tenant, Dead::Invalid);
            };
            audit_link(&state, &tenant, &record, Opening::Valid, **client).await?;
            keep_token_while_it_lives(&state, jar, &record);
            // A button, not an action on GET: mail scanners open links.
            let context = context! {
                firm => firm_value(&tenant),
                csrf_token => csrf.0.clone(),
                link => record.id.to_string(),
                account_email => holder.email.as_str(),
            };
            Ok(token_page(Html(
                state
                    .templates
                    .render("portal/reset_temporary.html", context)?,
            )))
        }
        TokenCheck::Invalid => dead_link(&state, &tenant, Dead::Invalid),
        TokenCheck::Expired(record) => {
            audit_link(&state, &tenant, &record, Opening::Expired, **client).await?;
            dead_link(&state, &tenant, Dead::Expired)
        }
        TokenCheck::Used(record) => {
            audit_link(&state, &tenant, &record, Opening::Used, **client).await?;
            dead_link(&state, &tenant, Dead::Used)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NewPasswordForm {
    new_password: String,
    confirm_password: String,
    /// The id of the link the form was shown for; see [`check_form_link`].
    #[serde(default)]
    link: String,
}

/// The token the browser holds, if any: without one only the email can tell which
/// account the form was for.
fn held_token(jar: &CookieJar) -> Result<UrlToken, Dead> {
    let cookie = jar.get(RESET_COOKIE).ok_or(Dead::Reopen)?;
    UrlToken::parse(cookie.value_str()).ok_or(Dead::Invalid)
}

/// Whether a live link is the very one the form was shown for. One cookie per host
/// holds the newest link opened, so a tab left open on an older link (or a token
/// planted in the browser) must not change the newer link's account.
fn check_form_link(record: &TokenRecord, link: &str) -> Result<(), Dead> {
    match Uuid::parse_str(link) {
        Ok(id) if id == record.id => Ok(()),
        _ => Err(Dead::Superseded),
    }
}

/// Counts a POST with a link against the client address before anything is looked
/// up (429 past `limits.sign_in_per_address`); a live link takes it back.
async fn link_attempt(state: &AppState, client: ClientAddress) -> Result<Attempt, GatewayError> {
    let bucket = format!("reset:address:{}", client.limit_key());
    let limit = state.settings.limits.sign_in_per_address;
    let (attempt, _) = Attempt::begin(&state.services, vec![(bucket, limit)]).await?;
    Ok(attempt)
}

/// Uses the token: a new password, every session and every other token of the
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
    let attempt = link_attempt(&state, **client).await?;
    let token = match held_token(jar) {
        Ok(token) => token,
        Err(why) => return dead_link(&state, &tenant, why),
    };
    let record = match check_presented(&state, &tenant, &token).await? {
        TokenCheck::Valid(record) if record.purpose != TokenPurpose::TemporaryPassword => record,
        TokenCheck::Valid(_) | TokenCheck::Invalid => {
            return dead_link(&state, &tenant, Dead::Invalid);
        }
        TokenCheck::Expired(_) => {
            return dead_link(&state, &tenant, Dead::Expired);
        }
        TokenCheck::Used(_) => {
            return dead_link(&state, &tenant, Dead::Used);
        }
    };
    if let Err(why) = check_form_link(&record, &form.link) {
        return dead_link(&state, &tenant, why);
    }
    let Some(holder) = holder(&state, &tenant, &record).await? else {
        return dead_link(&state, &tenant, Dead::Invalid);
    };
    // A live link is no guess, whatever becomes of the password typed.
    attempt.refund(&state.services).await?;
    let errors: Vec<String> = state
        .services
        .policy(&tenant)
        .password
        .check(&form.new_password, &form.confirm_password, &holder.email)
        .iter()
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return form_page(&state, &tenant, csrf, &record, &holder, &errors);
    }
    let hash = state.services.hasher.hash(&form.new_password).await?;
    let now = Utc::now();
    let txn = state
        .services
        .db
        .begin()
        .await
        .map_err(GatewayError::internal)?;
    match redeem_token(
        &txn,
        &state.services.token_keys,
        tenant.id,
        record.purpose,
        &token,
        now,
    )
    .await
    {
        Ok(_) => {}
        Err(RedeemError::Used) => {
            return dead_link(&state, &tenant, Dead::Used);
        }
        Err(RedeemError::Expired) => {
            return dead_link(&state, &tenant, Dead::Expired);
        }
        Err(RedeemError::Invalid) => {
            return dead_link(&state, &tenant, Dead::Invalid);
        }
        Err(RedeemError::Store(error)) => return Err(GatewayError::internal(error)),
    }
    match holder.kind {
        AccountKind::Contact => {
            set_contact_password(&txn, tenant.id, holder.id, hash, false, now).await?
        }
        AccountKind::Staff => set_staff_password(&txn, tenant.id, holder.id, hash, now).await?,
    }
    revoke_all_sessions(&txn, tenant.id, holder.kind, holder.id, None).await?;
    revoke_tokens(&txn, tenant.id, holder.kind.as_str(), holder.id, None)
        .await
        .map_err(GatewayError::internal)?;
    let actor = match holder.kind {
        AccountKind::Contact => Actor::Contact(holder.id),
        AccountKind::Staff => Actor::Staff(holder.id),
    };
    for action in [AuditAction::LinkRedeemed, AuditAction::PasswordChanged] {
        let event = NewAuditEvent {
            action,
            actor,
            subject_kind: holder.kind,
            subject_id: holder.id,
            client_address: client.0.0.map(|address| address.to_string()),
            detail: Some(format!("token {}", record.id)),
        };
        record_audit(&txn, tenant.id, event, now).await?;
    }
    let queued = queue_password_changed(
        &txn,
        &state.services,
        &tenant,
        &holder.name,
        &holder.email,
        holder.locale.as_deref(),
    )
    .await?;
    txn.commit().await.map_err(GatewayError::internal)?;
    state.services.waker.notify(&queued);
    forget_token(&state, jar);
    tracing::info!(token_id = %record.id, kind = holder.kind.as_str(), "password set through a link");
    let login = match holder.kind {
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

/// Letters and digits that cannot be mistaken for one another when typed from an
/// email.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// 18 characters of a 55-letter alphabet: over 100 bits from the OS generator.
fn generate_password() -> Result<String, GatewayError> {
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes)
        .map_err(|error| GatewayError::internal(std::io::Error::other(error.to_string())))?;
    // Rejection sampling keeps every letter equally likely.
    let limit = 256 - (256 % PASSWORD_ALPHABET.len());
    let password: String = bytes
        .iter()
        .filter(|byte| usize::from(**byte) < limit)
        .take(18)
        .map(|byte| char::from(PASSWORD_ALPHABET[usize::from(*byte) % PASSWORD_ALPHABET.len()]))
        .collect();
    if password.len() < 18 {
        return generate_password();
    }
    Ok(password)
}

/// The temporary-password mode's button (004 step 1.4): emails a generated password
/// that must be changed at the next sign-in. Once only, like every link.
#[handler]
pub async fn send_temporary_password(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    jar: &CookieJar,
    client: Data<&ClientAddress>,
    CsrfForm(form): CsrfForm<LinkForm>,
) -> Result<Response, GatewayError> {
    let attempt = link_attempt(&state, **client).await?;
    let token = match held_token(jar) {
        Ok(token) => token,
        Err(why) => return dead_link(&state, &tenant, why),
    };
    let record = match check_presented(&state, &tenant, &token).await? {
        TokenCheck::Valid(record) if record.purpose == TokenPurpose::TemporaryPassword => record,
        TokenCheck::Valid(_) | TokenCheck::Invalid => {
            return dead_link(&state, &tenant, Dead::Invalid);
        }
        TokenCheck::Expired(_) => {
            return dead_link(&state, &tenant, Dead::Expired);
        }
        TokenCheck::Used(_) => return dead_link(&state, &tenant, Dead::Used),
    };
    if let Err(why) = check_form_link(&record, &form.link) {
        return dead_link(&state, &tenant, why);
    }
    let Some(holder) = holder(&state, &tenant, &record)
        .await?
        .filter(|holder| holder.kind == AccountKind::Contact)
    else {
        return dead_link(&state, &tenant, Dead::Invalid);
    };
    attempt.refund(&state.services).await?;
    let password = generate_password()?;
    let hash = state.services.hasher.hash(&password).await?;
    let now = Utc::now();
    let txn = state
        .services
        .db
        .begin()
        .await
        .map_err(GatewayError::internal)?;
    match redeem_token(
        &txn,
        &state.services.token_keys,
        tenant.id,
        TokenPurpose::TemporaryPassword,
        &token,
        now,
    )
    .await
    {
        Ok(_) => {}
        Err(RedeemError::Used) => {
            return dead_link(&state, &tenant, Dead::Used);
        }
        Err(RedeemError::Expired) => {
            return dead_link(&state, &tenant, Dead::Expired);
        }
        Err(RedeemError::Invalid) => {
            return dead_link(&state, &tenant, Dead::Invalid);
        }
        Err(RedeemError::Store(error)) => return Err(GatewayError::internal(error)),
    }
    set_contact_password(&txn, tenant.id, holder.id, hash, true, now).await?;
    revoke_all_sessions(&txn, tenant.id, holder.kind, holder.id, None).await?;
    revoke_tokens(&txn, tenant.id, holder.kind.as_str(), holder.id, None)
        .await
        .map_err(GatewayError::internal)?;
    let event = NewAuditEvent {
        action: AuditAction::TemporaryPasswordSent,
        actor: Actor::Contact(holder.id),
        subject_kind: holder.kind,
        subject_id: holder.id,
        client_address: client.0.0.map(|address| address.to_string()),
        detail: Some(format!("token {}", record.id)),
    };
    record_audit(&txn, tenant.id, event, now).await?;
    let email: notification::Email = notification::TemporaryPassword {
        name: holder.name.clone(),
        password,
        sign_in_url: state.services.firm_url(&tenant, "/login"),
    }
    .into();
    let queued = service::emails::queue_email(
        &txn,
        &state.services,
        &tenant,
        &holder.email,
        holder.locale.as_deref(),
        &email,
    )
    .await?;
    txn.commit().await.map_err(GatewayError::internal)?;
    state.services.waker.notify(&queued);
    forget_token(&state, jar);
    let context = context! { firm => firm_value(&tenant) };
    Ok(token_page(Html(
        state
            .templates
            .render("portal/reset_temporary_sent.html", context)?,
    )))
}
