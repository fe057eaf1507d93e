//! "Find your firm" on the platform host: a person who forgot their firm's address
//! asks for the list of firms where their email has an account. Like "Forgot your
//! password?", the page only queues the request, so its answer and timing are the
//! same for every address; the processor emails the list to that address alone.

use chrono::Utc;
use identity::{
    AccountKind, EmailAddress, FirmLookup, LookupOutcome, accounts_by_email,
    count_sent_firm_lookups, finish_firm_lookup, pending_firm_lookups, record_firm_lookup,
};
use minijinja::context;
use notification::{Email, FindYourFirm, FirmLink, QueuedMessage, enqueue_platform};
use poem::http::StatusCode;
use poem::web::{CsrfToken, CsrfVerifier, Data, Form, Html};
use poem::{IntoResponse, Response, handler};
use sea_orm::TransactionTrait;

use crate::app::AppState;
use crate::emails::firm_url;
use crate::error::GatewayError;
use crate::forms::{check_csrf, single, throttle_address};
use crate::request_context::ClientAddress;

/// The sender's name on platform mail, which speaks for no one firm.
pub const PLATFORM_NAME: &str = "Latchkey";

fn form_page(
    state: &AppState,
    csrf: &CsrfToken,
    email: &str,
    error: Option<&str>,
) -> Result<Html<String>, GatewayError> {
    let context = context! { csrf_token => csrf.0.clone(), email, error };
    Ok(Html(
        state.templates.render("find_your_firm.html", context)?,
    ))
}

#[handler]
pub async fn find_page(
    state: Data<&AppState>,
    csrf: &CsrfToken,
) -> Result<Html<String>, GatewayError> {
    form_page(&state, csrf, "", None)
}

#[handler]
pub async fn request_list(
    state: Data<&AppState>,
    csrf: &CsrfToken,
    verifier: &CsrfVerifier,
    client: Data<&ClientAddress>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, GatewayError> {
    check_csrf(verifier, single(&fields, "csrf_token").unwrap_or_default())?;
    let raw_email = single(&fields, "email")?;
    let now = Utc::now();
    let address = client.0.0.map(|address| address.to_string());
    throttle_address(&state, "find-firm", address.as_deref(), now).await?;
    let Ok(email) = EmailAddress::parse(raw_email) else {
        let page = form_page(
            &state,
            csrf,
            raw_email.trim(),
            Some("Enter an email address, like name@example.com."),
        )?;
        return Ok(page
            .with_status(StatusCode::UNPROCESSABLE_ENTITY)
            .into_response());
    };
    record_firm_lookup(&state.db, &email, address, now).await?;
    state.reset_requests.notify_one();
    tracing::info!(email_domain = email.domain(), "firm list requested");
    Ok(Html(
        state
            .templates
            .render("find_your_firm_sent.html", context! {})?,
    )
    .into_response())
}

/// Handles every pending request once; returns how many it handled.
pub async fn process_firm_lookups(state: &AppState) -> Result<usize, GatewayError> {
    let pending = pending_firm_lookups(&state.db, 50).await?;
    for lookup in &pending {
        let span = tracing::info_span!("firm_lookup", tenant = "platform", request = %lookup.id);
        let _entered = span.enter();
        if let Some(queued) = process_one(state, lookup).await? {
            state.waker.notify(&queued);
        }
    }
    Ok(pending.len())
}

async fn process_one(
    state: &AppState,
    lookup: &FirmLookup,
) -> Result<Option<QueuedMessage>, GatewayError> {
    let now = Utc::now();
    let txn = state.db.begin().await.map_err(GatewayError::internal)?;
    let mut firms: Vec<FirmLink> = Vec::new();
    if let Ok(email) = EmailAddress::parse(&lookup.email) {
        for account in accounts_by_email(&txn, &email).await? {
            let Some(tenant) = tenancy::find_tenant_by_id(&txn, account.tenant_id).await? else {
                continue;
            };
            // Only portals that answer: a suspended or deleted firm's link would not.
            if !tenant.is_active() {
                continue;
            }
            let path = match account.kind {
                AccountKind::Staff => "/staff/login",
                AccountKind::Contact => "/login",
            };
            firms.push(FirmLink {
                name: tenant.display_name.clone(),
                url: firm_url(state, &tenant, path),
            });
        }
    }
    firms.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.url.cmp(&b.url)));
    let (outcome, queued) = if firms.is_empty() {
        (LookupOutcome::NoAccount, None)
    } else {
        let window = chrono::Duration::minutes(state.settings.limits.window_minutes);
        let sent = count_sent_firm_lookups(&txn, &lookup.email, now - window).await?;
        if sent >= state.settings.limits.reset_emails_per_email {
            (LookupOutcome::Limited, None)
        } else {
            let email: Email = FindYourFirm { firms }.into();
            let rendered = state
                .renderer
                .render_platform(&email, PLATFORM_NAME, None)
                .map_err(GatewayError::internal)?;
            let queued = enqueue_platform(&txn, &lookup.email, &rendered, now)
                .await
                .map_err(GatewayError::internal)?;
            (LookupOutcome::Sent, Some(queued))
        }
    };
    // Another instance may have taken the same request: then nothing of ours counts.
    if !finish_firm_lookup(&txn, lookup.id, outcome, now).await? {
        txn.rollback().await.map_err(GatewayError::internal)?;
        return Ok(None);
    }
    txn.commit().await.map_err(GatewayError::internal)?;
    tracing::info!(outcome = ?outcome, "firm list request handled");
    Ok(queued)
}
